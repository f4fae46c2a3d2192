// The video page: player (HTTP range requests; starts at ?t= or ?shot=), shot cards with
// keyframes, labels and "find similar", timeline clicks, keyframe similarity heat map.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const root = $("video-root"), player = $("player");
  const key = root.dataset.id;
  const q = new URLSearchParams(location.search);
  let shots = [];

  function seek(t, play) {
    const go = () => { player.currentTime = Math.max(0, t + 1e-3); if (play) player.play().catch(() => {}); };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, {once: true});
    highlight(t);
  }
  function highlight(t) {
    for (const n of document.querySelectorAll(".kf.now")) n.classList.remove("now");
    let best = null, bd = Infinity;
    for (const n of document.querySelectorAll(".kf[data-time]")) {
      const d = Math.abs(parseFloat(n.dataset.time) - t);
      if (d < bd) { bd = d; best = n; }
    }
    if (best) best.classList.add("now");
  }
  player.addEventListener("timeupdate", () => { $("now").textContent = player.currentTime.toFixed(2) + " s"; });
  player.addEventListener("seeked", () => { $("now").textContent = player.currentTime.toFixed(2) + " s"; });

  function labels(ls) {
    if (ls === null || ls === undefined) return null;
    if (!ls.length) return kadr.el("div", {class: "lab muted", text: "solid frame: nothing to label"});
    return kadr.el("div", {class: "lab"}, ...ls.flatMap((p, i) => [i ? kadr.el("br") : null,
      kadr.el("b", {text: p.label}), " " + Math.round(100 * p.score) + "%"]));
  }
  function keyframeNode(k, shot) {
    return kadr.el("div", {class: "kf", "data-time": k.time, "data-frame": k.frame},
      kadr.el("img", {src: k.thumbnail_url, alt: "frame " + k.frame, class: "seek", title: "play from here",
        onclick: () => seek(k.time, true)}),
      kadr.el("div", {class: "cap", text: "frame " + k.frame + " · " + kadr.fmtTime(k.time)}),
      labels(k.labels),
      k.description ? kadr.el("div", {class: "lab muted", text: k.description}) : null,
      kadr.el("a", {class: "sim", href: k.similar_url, text: "find similar"}));
  }
  function render(v) {
    const box = $("shots");
    if (v.analysis) {
      shots = v.analysis.shots;
      box.replaceChildren(...shots.map((s) => kadr.el("div", {class: "shot", id: "shot" + s.index},
        kadr.el("h3", {},
          kadr.el("a", {href: "#shot" + s.index, class: "play-shot", text: "▶ Shot " + s.index,
            onclick: (e) => { e.preventDefault(); seek(s.start_time, true); }}),
          " · " + kadr.fmtTime(s.start_time) + "–" + kadr.fmtTime(s.end_time) + " · " + (s.end_frame - s.start_frame) + " frames"),
        kadr.el("div", {class: "kfs"}, ...s.keyframes.map((k) => keyframeNode(k, s))))));
    } else if (v.keyframes.length) {
      box.replaceChildren(kadr.el("div", {class: "muted", text: "no analysis of this video (run kadr analyse and start the server with --videos); its indexed keyframes:"}),
        kadr.el("div", {class: "grid"}, ...v.keyframes.map((k) => {
          const c = kadr.card(k);
          c.querySelector("a.open").addEventListener("click", (e) => { e.preventDefault(); seek(k.time, true); });
          return c;
        })));
    } else box.replaceChildren(kadr.el("span", {class: "muted", text: "no shots: this video has neither an analysis nor indexed keyframes"}));
    // a film strip under the timeline: each shot's first keyframe, placed and sized like its bar
    const tl = document.querySelector("#timeline svg");
    if (tl && v.analysis && v.analysis.frames) {
      const W = parseFloat(tl.getAttribute("width")), pad = 8, w = W - 2 * pad, n = v.analysis.frames;
      const strip = kadr.el("div", {id: "strip", class: "strip"});
      strip.style.width = W + "px";
      for (const s of shots) {
        const k = s.keyframes[0];
        if (!k) continue;
        const x = pad + w * s.start_frame / n, bw = Math.max(24, w * (s.end_frame - s.start_frame) / n - 2);
        const img = kadr.el("img", {src: k.thumbnail_url, alt: "shot " + s.index, title: "shot " + s.index + ": play",
          onclick: () => seek(s.start_time, true)});
        img.style.left = x + "px"; img.style.width = bw + "px";
        strip.append(img);
      }
      tl.after(strip);
    }
    // the timeline's shot bars link to #shotN: play from that shot
    for (const a of document.querySelectorAll("#timeline a")) {
      a.addEventListener("click", (e) => {
        const n = parseInt((a.getAttribute("href") || "").replace(/^#shot/, ""), 10);
        const s = shots.find((x) => x.index === n);
        if (s) { e.preventDefault(); seek(s.start_time, true); }
      });
    }
    if (q.has("t")) seek(parseFloat(q.get("t")) || 0, false);
    else if (q.has("shot")) { const s = shots.find((x) => x.index === parseInt(q.get("shot"), 10)); if (s) seek(s.start_time, false); }
  }

  // viridis anchors, as kadr.report.html's heat map
  const ANCH = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function colour(v) {
    const x = Math.min(1, Math.max(0, v)) * (ANCH.length - 1), i = Math.min(Math.floor(x), ANCH.length - 2), f = x - i;
    return "rgb(" + ANCH[i].map((c, j) => Math.round(c + (ANCH[i + 1][j] - c) * f)).join(",") + ")";
  }
  function heat(sim) {
    const info = $("heat-info"), cv = $("heat");
    const n = sim.keyframes.length;
    if (!n || !sim.matrix.length) { info.textContent = "no keyframes to compare" + (sim.encoder ? "" : " (needs a database)"); cv.hidden = true; return; }
    const cell = Math.max(4, Math.min(48, Math.floor(560 / n)));
    // thumbnails along both axes when cells are big enough to show them
    const thumbs = cell >= 20 && sim.keyframes.every((k) => k.thumbnail_url);
    const m = thumbs ? cell + 4 : 0;
    cv.width = cv.height = m + n * cell;
    const g = cv.getContext("2d");
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      g.fillStyle = colour(sim.matrix[i][j]); g.fillRect(m + j * cell, m + i * cell, cell, cell);
    }
    if (thumbs) sim.keyframes.forEach((k, i) => {
      const im = new Image();
      im.onload = () => {
        const s = Math.min(im.width, im.height), sx = (im.width - s) / 2, sy = (im.height - s) / 2;
        g.drawImage(im, sx, sy, s, s, 0, m + i * cell, cell, cell);
        g.drawImage(im, sx, sy, s, s, m + i * cell, 0, cell, cell);
      };
      im.src = k.thumbnail_url;
    });
    info.textContent = n + (sim.granularity === "shot" ? " shots (each cell: the best pair of their keyframes)" : " keyframes") +
      " in time order · cosine similarity of their " + sim.encoder +
      " embeddings (dark 0 … yellow 1); hover for values, click a row to play that keyframe";
    const at = (e) => { const r = cv.getBoundingClientRect(); return [Math.floor((e.clientY - r.top - m) / cell), Math.floor((e.clientX - r.left - m) / cell)]; };
    cv.addEventListener("mousemove", (e) => {
      const [i, j] = at(e);
      if (i >= 0 && j >= 0 && i < n && j < n) {
        const a = sim.keyframes[i], b = sim.keyframes[j];
        cv.title = "shot " + a.shot + " frame " + a.frame + " × shot " + b.shot + " frame " + b.frame + ": " + sim.matrix[i][j].toFixed(3);
      }
    });
    cv.addEventListener("click", (e) => { const [i] = at(e); if (i >= 0 && i < n) seek(sim.keyframes[i].time, true); });
  }

  kadr.api("/api/videos/" + encodeURIComponent(key)).then(render).catch((err) => kadr.status($("shots"), err.message, true));
  kadr.api("/api/videos/" + encodeURIComponent(key) + "/similarity").then(heat).catch((err) => kadr.status($("heat-info"), err.message, true));
})();
