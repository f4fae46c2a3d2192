// The search page: query by image (picker, drag and drop, paste), frame, text or item id,
// combined; every parameter lives in the URL so a search can be shared and reloaded.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("query"), results = $("results"), statusNode = $("status");
  const FIELDS = ["text", "frame", "k", "min_score", "kind", "video", "t0", "t1", "where"];
  let image = null;        // a File waiting to be uploaded
  let uploads = [];        // keys of uploaded images the server remembers
  let ids = [];

  function setImage(file) {
    if (!file) return;
    image = file;
    uploads = []; ids = [];
    $("preview").src = URL.createObjectURL(file);
    $("preview").hidden = false;
    $("clear-image").hidden = false;
    $("drop-hint").textContent = file.name || "pasted image";
  }
  function clearImage() {
    image = null; uploads = []; ids = [];
    $("preview").hidden = true; $("clear-image").hidden = true; $("image").value = "";
    $("drop-hint").textContent = "drop or paste an image here, or";
  }
  $("image").addEventListener("change", (e) => setImage(e.target.files[0]));
  $("clear-image").addEventListener("click", clearImage);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files.length) { setImage(e.dataTransfer.files[0]); run(); }
  });
  document.addEventListener("paste", (e) => {
    for (const item of (e.clipboardData || {}).items || []) {
      if (item.kind === "file" && item.type.startsWith("image/")) { setImage(item.getAsFile()); run(); return; }
    }
  });

  function params() {
    const p = new URLSearchParams();
    for (const f of FIELDS) { const v = $(f).value.trim(); if (v !== "") p.set(f, v); }
    for (const u of uploads) p.append("upload", u);
    for (const i of ids) p.append("id", i);
    return p;
  }
  function fromUrl() {
    const p = new URLSearchParams(location.search);
    for (const f of FIELDS) if (p.has(f)) $(f).value = p.get(f);
    uploads = p.getAll("upload"); ids = p.getAll("id");
    if (uploads.length) { $("drop-hint").textContent = "the image uploaded earlier (kept by the server), or"; $("clear-image").hidden = false; }
    if (ids.length) { $("drop-hint").textContent = "items similar to the linked one, or"; $("clear-image").hidden = false; }
    return FIELDS.some((f) => p.get(f) && f !== "k") || uploads.length || ids.length;
  }

  function show(data) {
    results.replaceChildren(...data.results.map(kadr.card));
    const q = data.queries;
    const what = [];
    if (q.images || q.uploads.length) what.push("image");
    if (q.texts.length) what.push("text “" + q.texts.join("”, “") + "”");
    if (q.frames.length) what.push("frame " + q.frames.join(", "));
    if (q.ids.length) what.push("similar to item " + q.ids.join(", "));
    kadr.status(statusNode, data.results.length + " results for " + what.join(" + ") + " (" + data.encoder +
      ", cosine" + (data.where ? ", where " + data.where : "") + ") in " + data.took_ms.toFixed(0) + " ms");
  }

  async function run() {
    kadr.status(statusNode, "searching…");
    try {
      let data;
      if (image) {
        const fd = new FormData();
        fd.append("image", image, image.name || "pasted.png");
        for (const [k, v] of params()) fd.append(k, v);
        data = await kadr.api("/api/search", {method: "POST", body: fd});
        uploads = data.queries.uploads; image = null;
      } else {
        data = await kadr.api("/api/search?" + params().toString());
      }
      history.replaceState(null, "", "/search?" + params().toString());
      show(data);
    } catch (err) {
      results.replaceChildren();
      kadr.status(statusNode, err.message, true);
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  if (fromUrl()) run();
  else kadr.status(statusNode, "give an image, a frame" + (document.body.dataset.text === "yes" ? ", a text" : "") + " or combine them");
})();
