"""Text → image retrieval offline: the semantic bridge (ConSE over effnet-lite) + measured descriptions.

Run: ``.venv/bin/python benchmarks/text_search.py`` (wrap in ``flock /work/notes/bench.lock``).
Writes ``benchmarks/results/text_search.md``.

Labelled set (38 pictures): 20 scikit-image sample photos, 6 generated frames (a red frame,
colour bars, a black frame, noise, a blue gradient, a green disk) and 12 frames of the shared
clips (one per distinct shot, chosen by looking at the shots, ``KEYFRAMES``). Queries: two per
picture, written before any result was seen, in ``benchmarks/data/text_search_queries.tsv``.
Each picture is in the ``tune`` or the ``held`` split (alternating, fixed in the file): the
bridge's settings are chosen by MRR on the tune queries only; the held queries are scored once
with the chosen settings. Every query ranks all 38 pictures.

Compared, on the same queries: random ranking (expected top-1 = 1/38, MRR = mean 1/r);
plain label-string matching (query words found in the picture's top-5 ImageNet class names,
weighted by probability); the bridge alone; measured descriptions alone; the fused score
``alpha * cos(q, semantic) + (1 - alpha) * cos(q, description)`` that the index uses.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _common import ROOT, SHARED_VIDEO, machine_line, markdown_table, write_result  # noqa: E402

QUERIES = ROOT / "benchmarks" / "data" / "text_search_queries.tsv"
SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "immunohistochemistry", "hubble", "retina",
           "colorwheel", "camera", "moon", "coins", "page", "grass", "gravel", "brick", "horse", "clock", "cell",
           "checkerboard", "text", "logo", "binary_blobs", "microaneurysms")
#: picture id → (clip under ../shared/data/video, frame index): one frame per distinct shot
KEYFRAMES = {
    "kf_leaf": ("testvideo.mp4", 100), "kf_deer": ("testvideo.mp4", 290), "kf_texture": ("testvideo.mp4", 600),
    "kf_anime_castle": ("issue-236-split-copy.mkv", 10), "kf_anime_girl": ("issue-236-split-copy.mkv", 40),
    "kf_counter_red": ("counter.mp4", 15), "kf_counter_green": ("counter.mp4", 25),
    "kf_bottle": ("single-shot/bottle-detection.mp4", 600), "kf_cars": ("single-shot/car-detection.mp4", 200),
    "kf_person": ("single-shot/one-by-one-person-detection.mp4", 300),
    "kf_room": ("single-shot/one-by-one-person-detection.mp4", 900),
    "kf_asl": ("single-shot/asl_gestures/bird.mkv", 30),
    # the second held-out set
    "kf_road": ("single-shot/car-detection.mp4", 50), "kf_woman": ("single-shot/one-by-one-person-detection.mp4", 600),
    "kf_asl_eat": ("single-shot/asl_gestures/eat.mkv", 30), "kf_asl_book": ("single-shot/asl_gestures/book.mkv", 30),
}
CLASSIFIERS = ("effnet-lite0", "effnet-lite1", "effnet-lite2")
#: What the first run (38 pictures, tune + held only) measured, kept because its held half is the only one
#: scored before anything was changed: settings were then chosen by tune MRR alone (lite1, T=50, tau=2).
HISTORY = ("First run (38 pictures, before held2 existed; tune-best settings with lite1): tune top-1 63 %, "
           "MRR 0.697; **held top-1 34 %, MRR 0.491** — the clean held-out number of the tuning procedure. "
           "The same run with lite0 as classifier (what kadr ships): held top-1 47 %, MRR 0.598. After seeing it, "
           "the held2 set (13 new pictures, 26 new queries) was written and is scored here for the first time; "
           "all splits now rank 51 pictures, so the tune/held numbers here differ from the first run.")
STOP = {"a", "an", "the", "of", "on", "in", "with", "and", "from", "to", "at", "seen", "his", "her", "its", "under"}


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    img = {"motorcycle": lambda: data.stereo_motorcycle()[0], "hubble": data.hubble_deep_field,
           "immunohistochemistry": data.immunohistochemistry}.get(name, getattr(data, name, None))()
    if name == "logo":
        rgba = img.astype(np.float32)
        a = rgba[..., 3:4] / 255.0  # over white, as the logo is shown
        img = (rgba[..., :3] * a + 255.0 * (1 - a)).round().astype(np.uint8)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3]).astype(np.uint8)


def _generated() -> dict[str, np.ndarray]:
    h, w = 360, 640
    rng = np.random.default_rng(0)
    red = np.zeros((h, w, 3), np.uint8)
    red[...] = (200, 20, 25)
    bars_cols = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]
    bars = np.zeros((h, w, 3), np.uint8)
    for i, c in enumerate(bars_cols):
        bars[:, i * w // 7:(i + 1) * w // 7] = c
    black = np.full((h, w, 3), 4, np.uint8)
    noise = rng.integers(0, 256, (h, w, 1), dtype=np.uint8).repeat(3, axis=2)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    grad = ((1 - t) * np.array([30, 90, 220], np.float32) + t * np.array([245, 248, 255], np.float32))
    grad = np.broadcast_to(grad, (h, w, 3)).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    circle = np.full((h, w, 3), 250, np.uint8)
    circle[(yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 3) ** 2] = (30, 170, 40)
    yellow = np.zeros((h, w, 3), np.uint8)
    yellow[...] = (245, 220, 30)
    white = np.full((h, w, 3), 252, np.uint8)
    sunset = ((1 - t) * np.array([250, 140, 30], np.float32) + t * np.array([90, 30, 120], np.float32))
    sunset = np.broadcast_to(sunset, (h, w, 3)).astype(np.uint8)
    dot = np.full((h, w, 3), 5, np.uint8)
    dot[(yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 5) ** 2] = (30, 60, 230)
    return {"gen_red": red, "gen_bars": bars, "gen_black": black, "gen_noise": noise, "gen_gradient": grad,
            "gen_circle": circle, "gen_yellow": yellow, "gen_white": white, "gen_sunset": sunset, "gen_blue_dot": dot}


def gallery() -> dict[str, np.ndarray]:
    """Picture id → RGB uint8 image (38 pictures; keyframes need ../shared/data/video)."""
    from kadr.io.video import VideoReader

    out = {n: _skimage(n) for n in SKIMAGE}
    out.update(_generated())
    for pid, (clip, frame) in KEYFRAMES.items():
        with VideoReader(SHARED_VIDEO / clip) as r:
            out[pid] = r.read(frame=frame).image
    return out


def load_queries() -> list[tuple[str, str, str]]:
    rows = []
    for line in QUERIES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pid, split, q = line.split("\t")
            rows.append((pid, split, q))
    return rows


def rank_metrics(scores: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Per query the 1-based rank of its picture (ties counted pessimistically)."""
    own = scores[np.arange(len(target)), target]
    ranks = (scores > own[:, None]).sum(1) + (scores == own[:, None]).sum(1)  # ties: worst position
    return {"rank": ranks}


def summary(ranks: np.ndarray) -> dict[str, float]:
    return {"top1": float((ranks == 1).mean()), "top5": float((ranks <= 5).mean()), "mrr": float((1 / ranks).mean())}


def random_expectation(n: int) -> dict[str, float]:
    return {"top1": 1 / n, "top5": min(5, n) / n, "mrr": float(np.mean([1 / r for r in range(1, n + 1)]))}


def label_match_scores(queries: list[str], top_labels: list[list[tuple[str, float]]]) -> np.ndarray:
    """Plain label-string matching: sum over query words of the best probability among the
    picture's top-5 class names containing that word (case-insensitive, stop words dropped)."""
    out = np.zeros((len(queries), len(top_labels)), np.float32)
    for i, q in enumerate(queries):
        words = [w for w in re.findall(r"[a-z]+", q.lower()) if w not in STOP]
        for j, labs in enumerate(top_labels):
            for w in words:
                out[i, j] += max((p for name, p in labs if w in re.findall(r"[a-z]+", name.lower())), default=0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(ROOT / ".bench-cache" / "text_search"), help="folder for cached embeddings")
    args = ap.parse_args()
    from kadr import features
    from kadr.features.describe import measure
    from kadr.features.imagenet import imagenet_classes, short_label
    from kadr.features.semantic import PROMPT_SETS, BridgeOptions, class_texts, conse, pool_by_class

    t_start = time.perf_counter()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    pics = gallery()
    ids = list(pics)
    rows = load_queries()
    qtext = [q for _, _, q in rows]
    target = np.array([ids.index(p) for p, _, _ in rows])
    split = np.array([s for _, s, _ in rows])
    n = len(ids)
    minilm = features.get("minilm")

    # logits of each classifier (timed: images/s of the bridge's image side)
    logits, speed = {}, {}
    for c in CLASSIFIERS:
        enc = features.get(c)
        enc.logits([pics[ids[0]]])  # warm-up (and ONNX export on first use)
        t0 = time.perf_counter()
        logits[c] = enc.logits([pics[i] for i in ids])
        speed[c] = n / (time.perf_counter() - t0)

    # text embeddings of every (class synonym, prompt) string, cached: the tables of all settings pool them
    all_prompts = sorted({p for ps in PROMPT_SETS.values() for p in ps})
    emb_file = cache / "class_strings.npz"
    if emb_file.is_file():
        z = np.load(emb_file, allow_pickle=True)
        texts, emb = list(z["texts"]), z["emb"]
    else:
        texts, _ = class_texts(all_prompts, "all")
        t0 = time.perf_counter()
        emb = np.concatenate([minilm.encode_text(texts[i:i + 512]) for i in range(0, len(texts), 512)])
        print(f"embedded {len(texts)} class strings in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        np.savez(emb_file, texts=np.array(texts, dtype=object), emb=emb)
    index_of = {t: i for i, t in enumerate(texts)}

    def table(prompts: str, synonyms: str) -> np.ndarray:
        tx, owner = class_texts(PROMPT_SETS[prompts], synonyms)
        return pool_by_class(emb[[index_of[t] for t in tx]], owner)

    tables = {(p, s): table(p, s) for p in PROMPT_SETS for s in ("first", "all")}
    query_forms = {"raw": "{}", "photo": "a photo of {}."}
    qemb = {k: minilm.encode_text([f.format(q) for q in qtext]) for k, f in query_forms.items()}

    # measured descriptions (labels of the classifier in use) → MiniLM
    names = imagenet_classes()

    def descriptions(c: str) -> tuple[list[str], np.ndarray]:
        from kadr.features.effnet import softmax

        p = softmax(logits[c])
        out = []
        for j, i in enumerate(ids):
            top = np.argsort(-p[j])[:3]
            labs = [(short_label(names[k]), float(p[j, k])) for r, k in enumerate(top) if r == 0 or p[j, k] >= 0.05]
            out.append(measure(pics[i], labs).text())
        return out, minilm.encode_text(out)

    desc = {c: descriptions(c) for c in CLASSIFIERS}

    # grid over the bridge's settings; chosen by MRR (then top-1) on the tune queries only
    tune, held, held2 = split == "tune", split == "held", split == "held2"
    grid = []
    for c, top, tau, (pr, sy), qf, alpha in itertools.product(CLASSIFIERS, (1, 3, 5, 10, 20, 50), (0.5, 1.0, 2.0, 3.0),
                                                              tables, query_forms, (1.0, 0.8, 0.6, 0.5, 0.4, 0.2, 0.0)):
        sem = conse(logits[c], tables[(pr, sy)], top=top, temperature=tau)
        s = alpha * (qemb[qf] @ sem.T) + (1 - alpha) * (qemb[qf] @ desc[c][1].T)
        r = rank_metrics(s, target)["rank"]
        grid.append(((c, top, tau, pr, sy, qf, alpha), summary(r[tune]), summary(r[held]), r, summary(r[held2])))
    best = max(grid, key=lambda g: (g[1]["mrr"], g[1]["top1"]))
    from kadr.index.text import TextSearchOptions

    d, dt = BridgeOptions(), TextSearchOptions()
    shipped_cfg = (d.classifier, d.top, d.temperature, d.prompts, d.synonyms, "raw", dt.alpha)

    def row(label, t, h, h2):
        return [label] + [v for x in (t, h, h2) for v in (f"{x['top1']:.0%}", f"{x['top5']:.0%}", f"{x['mrr']:.3f}")]

    def at(cfg):
        return next(g for g in grid if g[0] == cfg)

    shipped = at(shipped_cfg)
    # the per-query table and the effect table describe what kadr ships
    (bc, btop, btau, bpr, bsy, bqf, balpha) = shipped_cfg

    # baselines
    rnd_t = random_expectation(n)
    p_by = {c: logits[c] for c in CLASSIFIERS}
    from kadr.features.effnet import softmax

    top5 = [[(names[k], float(pp[k])) for k in np.argsort(-pp)[:5]] for pp in softmax(p_by[bc])]
    lm = label_match_scores(qtext, top5)
    lm_r = rank_metrics(lm, target)["rank"]
    sem_only = at((bc, btop, btau, bpr, bsy, bqf, 1.0))
    desc_only = at((bc, btop, btau, bpr, bsy, bqf, 0.0))
    first_try = at(("effnet-lite0", 10, 1.0, "photo", "first", "raw", 1.0))
    lines = [
        "# Text search offline (semantic bridge + measured descriptions)", "",
        f"{machine_line()}. One run of `benchmarks/text_search.py` ({time.perf_counter() - t_start:.0f} s).",
        f"{n} pictures (20 scikit-image photos, 6 generated frames, 12 frames of the shared clips), "
        f"{len(rows)} queries written before any result ({tune.sum()} tune / {held.sum()} held-out, split by "
        "picture). Every query ranks all pictures; rank ties count as the worst position.", "",
        "## Settings", "",
        f"Best on the tune queries (MRR, then top-1) of {len(grid)} settings: classifier **{best[0][0]}**, top-T "
        f"**{best[0][1]}**, temperature **{best[0][2]}**, prompts **{best[0][3]}**, synonyms **{best[0][4]}**, query "
        f"form **{best[0][5]}**, fusion alpha **{best[0][6]}** (score = alpha cos(q, semantic) + (1 - alpha) "
        "cos(q, description)).", "",
        f"kadr ships (`BridgeOptions`, `TextSearchOptions`): classifier **{bc}**, top-T **{btop}**, temperature "
        f"**{btau}**, prompts **{bpr}**, synonyms **{bsy}**, alpha **{balpha}** — the tune-best except the "
        "classifier: effnet-lite0 is the default encoder, so one forward pass gives both the visual vector and "
        "the logits (lite1 would add a second network to every `index add`; its tune gain was 4 of 38 queries).",
        "",
        markdown_table(["method", "tune top-1", "tune top-5", "tune MRR", "held top-1", "held top-5", "held MRR",
                        "**held2 top-1**", "**held2 top-5**", "**held2 MRR**"], [
            row("random ranking (expectation)", rnd_t, rnd_t, rnd_t),
            row(f"label-string matching ({bc} top-5 names)", summary(lm_r[tune]), summary(lm_r[held]),
                summary(lm_r[held2])),
            row("issue's first try (lite0, T=10, 'a photo of a {first synonym}')", first_try[1], first_try[2],
                first_try[4]),
            row("semantic bridge alone (kadr's settings, alpha 1)", sem_only[1], sem_only[2], sem_only[4]),
            row("measured description alone (alpha 0)", desc_only[1], desc_only[2], desc_only[4]),
            row("fused: bridge + description (tune-best settings)", best[1], best[2], best[4]),
            row("**fused: bridge + description (kadr's defaults)**", shipped[1], shipped[2], shipped[4]),
        ]), "",
        HISTORY, "",
        "Goal of issue 13: held-out top-1 >= 60 % and MRR >= 0.7 — "
        + ("**met**." if min(shipped[2]["top1"], shipped[4]["top1"]) >= 0.6 and
           min(shipped[2]["mrr"], shipped[4]["mrr"]) >= 0.7 else
           f"**not met** (kadr's defaults: held top-1 {shipped[2]['top1']:.0%}, MRR {shipped[2]['mrr']:.3f}; "
           f"held2 top-1 {shipped[4]['top1']:.0%}, MRR {shipped[4]['mrr']:.3f})."),
        "",
        "## Each setting's effect (the others at kadr's defaults)", "",
    ]
    eff_rows = []
    for name, pos, values in (("classifier", 0, CLASSIFIERS), ("top-T", 1, (1, 3, 5, 10, 20, 50)),
                              ("temperature", 2, (0.5, 1.0, 2.0, 3.0)), ("prompts", 3, tuple(PROMPT_SETS)),
                              ("synonyms", 4, ("first", "all")), ("query form", 5, tuple(query_forms)),
                              ("alpha", 6, (1.0, 0.8, 0.6, 0.5, 0.4, 0.2, 0.0))):
        for v in values:
            cfg = list(shipped_cfg)
            cfg[pos] = v
            g = at(tuple(cfg))
            eff_rows.append([name, v, f"{g[1]['top1']:.0%}", f"{g[1]['mrr']:.3f}", f"{g[2]['top1']:.0%}",
                             f"{g[2]['mrr']:.3f}", f"{g[4]['top1']:.0%}", f"{g[4]['mrr']:.3f}"])
    lines += [markdown_table(["setting", "value", "tune top-1", "tune MRR", "held top-1 (not used to choose)",
                              "held MRR", "held2 top-1", "held2 MRR"], eff_rows), ""]
    lines += ["## Speed", "",
              markdown_table(["classifier", "images/s (logits, this run)"], [[c, f"{speed[c]:.1f}"] for c in CLASSIFIERS]),
              "", "## Per query (kadr's defaults)", ""]
    ranks = shipped[3]
    ddesc = desc[bc][0]
    per = []
    for i, (pid, sp, q) in enumerate(rows):
        order = np.argsort(-(balpha * (qemb[bqf][i] @ conse(logits[bc], tables[(bpr, bsy)], top=btop,
                                                            temperature=btau).T)
                             + (1 - balpha) * (qemb[bqf][i] @ desc[bc][1].T)))
        per.append([sp, q, pid, int(ranks[i]), int(lm_r[i]), ids[order[0]], ddesc[ids.index(pid)]])
    lines += [markdown_table(["split", "query", "picture", "rank", "label-match rank", "top hit",
                              "measured description of the picture"], per), ""]
    write_result("text_search", "\n".join(lines))


if __name__ == "__main__":
    main()
