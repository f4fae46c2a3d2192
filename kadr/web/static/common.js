// kadr serve: helpers shared by the pages. Every string from the server or a file name is
// put into the page as text (textContent / attribute values), never as HTML.
"use strict";
const kadr = {
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  },
  async api(url, opts) {
    let resp;
    try { resp = await fetch(url, Object.assign({credentials: "same-origin"}, opts || {})); }
    catch (err) { throw new Error("the server did not answer (" + err.message + ")"); }
    let body = null;
    try { body = await resp.json(); } catch (err) { body = null; }
    if (!resp.ok) throw new Error((body && body.error) || ("HTTP " + resp.status));
    return body;
  },
  fmtTime(t) {
    if (t === null || t === undefined) return "";
    const m = Math.floor(t / 60), s = t - 60 * m;
    return String(m).padStart(2, "0") + ":" + s.toFixed(2).padStart(5, "0");
  },
  status(node, msg, isError) {
    node.textContent = msg || "";
    node.classList.toggle("error", !!isError);
  },
  // one result card (search hits, duplicate items, live events share it)
  card(r) {
    const img = kadr.el("img", {src: r.thumbnail_url, alt: r.name || r.id, loading: "lazy", class: "thumb"});
    const link = r.video_url || r.media_url;
    const where = r.kind === "image" ? "image" :
      r.kind + " @ " + (r.time !== null && r.time !== undefined ? r.time.toFixed(2) + " s" : "?") +
      (r.shot !== null && r.shot !== undefined ? " · shot " + r.shot : "");
    return kadr.el("div", {class: "card result", "data-id": r.id, "data-time": r.time},
      link ? kadr.el("a", {href: link, class: "open"}, img) : img,
      kadr.el("div", {class: "meta"},
        r.score !== undefined ? kadr.el("span", {class: "score", text: r.score.toFixed(3)}) : null,
        kadr.el("span", {class: "src", text: r.name || r.path, title: r.path}),
        kadr.el("span", {class: "muted", text: where}),
        r.description ? kadr.el("span", {class: "desc", text: r.description, title: r.description}) : null,
        kadr.el("span", {class: "acts"},
          r.video_url ? kadr.el("a", {href: r.video_url, class: "to-video", text: "open video"}) : null,
          r.similar_url ? kadr.el("a", {href: r.similar_url, class: "similar", text: "find similar"}) : null)));
  },
};
