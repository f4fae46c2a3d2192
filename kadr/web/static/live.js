// The live page: `kadr watch` events pushed by the server as server-sent events.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const list = $("events");
  let count = 0;
  function eventNode(ev) {
    if (ev.stats) {
      const s = ev.stats;
      $("stats").textContent = "stream done: " + s.frames + " frames decoded, " + s.sampled + " embedded, " +
        s.dropped + " dropped, " + s.realtime_factor + "× real time";
      return null;
    }
    if (ev.type === "end" || ev.type === "info") { $("conn").textContent = ev.message; return null; }
    if (ev.type === "error") { $("conn").textContent = ev.message; $("conn").classList.add("error"); return null; }
    count += 1;
    const item = ev.item || null;
    const score = typeof ev.peak_score === "number" ? ev.peak_score.toFixed(3) : "";
    const span = typeof ev.start === "number" ? ev.start.toFixed(2) + " – " + (ev.end || ev.start).toFixed(2) + " s" : "";
    const what = item ? (item.name || item.path) + (item.time !== null && item.time !== undefined ? " @ " + item.time.toFixed(2) + " s" : "")
                      : (ev.name || JSON.stringify(ev));
    return kadr.el("div", {class: "event", "data-kind": ev.kind || ""},
      item && item.thumbnail_url ? kadr.el("a", {href: item.video_url || item.media_url || "#"}, kadr.el("img", {src: item.thumbnail_url, alt: item.name})) : null,
      kadr.el("span", {class: "when", text: span}),
      kadr.el("span", {class: "score", text: score ? "peak " + score : ""}),
      kadr.el("span", {class: "what", text: (ev.kind === "db" ? "database: " : "") + what}),
      ev.behind ? kadr.el("span", {class: "error", text: "behind"}) : null);
  }
  if (list.dataset.source !== "yes") { $("conn").textContent = "not connected: this server has no event source"; return; }
  const es = new EventSource("/api/events");
  es.onopen = () => { $("dot").classList.add("live"); $("conn").textContent = "connected; events appear as they happen"; };
  es.onerror = () => { $("dot").classList.remove("live"); $("conn").textContent = "reconnecting…"; };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (err) { return; }
    const n = eventNode(ev);
    if (n) { list.prepend(n); document.title = "(" + count + ") live · kadr serve"; }
    while (list.children.length > 300) list.lastChild.remove();
  };
})();
