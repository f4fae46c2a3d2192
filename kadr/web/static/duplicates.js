// The duplicates page: `kadr dedup` groups, duplicates apart from merely similar ones.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["where", "near_cosine", "similar_cosine", "max_hamming"];
  function group(g, i, title) {
    const tag = g.exact ? "exact copies" : "min cosine " + g.min_score.toFixed(3) + ", max pHash distance " + g.max_hamming;
    return kadr.el("div", {class: "group " + g.kind},
      kadr.el("h3", {text: title + " #" + (i + 1) + " · " + g.items.length + " items · " + tag}),
      kadr.el("div", {class: "items"}, ...g.items.map((it) => kadr.el("div", {class: "item"},
        kadr.el("a", {href: it.video_url || it.media_url}, kadr.el("img", {src: it.thumbnail_url, alt: it.name, loading: "lazy"})),
        kadr.el("span", {text: it.name + (it.time !== null && it.time !== undefined ? " @ " + it.time.toFixed(2) + " s" : ""), title: it.path}),
        " ", kadr.el("a", {href: it.similar_url, class: "similar", text: "similar"})))));
  }
  async function run() {
    const p = new URLSearchParams();
    for (const f of FIELDS) { const v = $(f).value.trim(); if (v !== "") p.set(f, v); }
    history.replaceState(null, "", "/duplicates" + (p.toString() ? "?" + p : ""));
    kadr.status($("status"), "comparing every pair…");
    try {
      const d = await kadr.api("/api/duplicates?" + p);
      const t = d.thresholds;
      $("rules").textContent = d.rows + " rows (" + d.encoder + "). Duplicates: cosine ≥ " + t.near_cosine +
        ", or ≥ " + t.similar_cosine + " with a pHash distance ≤ " + t.max_hamming + " bits; byte-identical files are exact. " +
        "Similar: cosine ≥ " + t.similar_cosine + " and not duplicates.";
      $("dup-title").textContent = "Duplicates (" + d.duplicate_groups + " groups)";
      $("sim-title").textContent = "Similar, not duplicates (" + d.similar_groups + " groups)";
      $("duplicates").replaceChildren(...d.duplicates.map((g, i) => group(g, i, "duplicates")));
      $("similar").replaceChildren(...d.similar.map((g, i) => group(g, i, "similar")));
      kadr.status($("status"), "");
    } catch (err) { kadr.status($("status"), err.message, true); }
  }
  const q = new URLSearchParams(location.search);
  for (const f of FIELDS) if (q.has(f)) $(f).value = q.get(f);
  $("dedup-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  run();
})();
