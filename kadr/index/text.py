"""The text columns of an index row (semantic vector, description, description vector) and
text queries over them.

At ``index add`` every picture gets, next to its visual vector:

* ``semantic`` — the picture in the MiniLM text space through the semantic bridge
  (:mod:`kadr.features.semantic`: ConSE over the ImageNet probabilities of an effnet-lite
  classifier; when the table's encoder *is* that classifier, one forward pass gives both);
* ``description`` — a caption from a captioning model folder (``caption:PATH``), or kadr's
  measured description (:mod:`kadr.features.describe`: labels, colours, brightness, shot length);
* ``description_vector`` — the MiniLM embedding of that description.

A text query q (MiniLM embedding) scores a row by
``alpha * cos(q, semantic) + (1 - alpha) * cos(q, description_vector)`` (``alpha`` in
:class:`TextSearchOptions`, chosen on the tuning queries of ``benchmarks/text_search.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kadr._options import opt
from kadr.errors import InputError


@dataclass(frozen=True)
class TextSearchOptions:
    """How text queries score rows of tables whose encoder has no text tower."""

    alpha: float = opt(0.6, "weight of the semantic vector against the description vector in a text query's "
                       "score (1 = semantic bridge only, 0 = descriptions only); chosen by MRR on the tuning "
                       "queries of benchmarks/text_search.py")

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and 0.0 <= float(self.alpha) <= 1.0):
            raise InputError(f"alpha must be in [0, 1], got {self.alpha!r}")


#: Describers of index rows: kadr's measured description, or ``caption:PATH`` (a model folder).
DEFAULT_DESCRIBER = "measured"


@dataclass
class TextColumns:
    """Text columns of a batch of pictures (n rows)."""

    semantic: np.ndarray           # (n, 384) float32
    description: list[str]
    description_vector: np.ndarray  # (n, 384) float32


def bridge_for(encoder: Any):
    """The semantic bridge to use with a table's ``encoder`` (its own classifier when it is an effnet-lite)."""
    from kadr.features.semantic import BridgeOptions, get_bridge

    default = BridgeOptions()
    return get_bridge(default)


def visual_and_logits(encoder: Any, bridge: Any, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(visual vectors (n, D), classifier logits (n, 1000)): one pass when ``encoder`` is the
    bridge's classifier, two otherwise."""
    from kadr.features.base import batched, l2_normalise

    if not images:
        return np.zeros((0, encoder.dim), np.float32), np.zeros((0, 1000), np.float32)
    if getattr(encoder, "name", None) == bridge.options.classifier and hasattr(encoder, "run"):
        feats, logits = [], []
        for b in batched(images, encoder.default_batch_size):
            f, z = encoder.run(b)[:2]
            feats.append(f)
            logits.append(z)
        return l2_normalise(np.concatenate(feats)), np.concatenate(logits)
    return encoder.encode_images(images), bridge.classifier.logits(images)


def measured_texts(images: Sequence[np.ndarray], logits: np.ndarray,
                   shot_seconds: Sequence[float | None] | None = None) -> list[str]:
    """Measured descriptions (text) from pictures and their ImageNet logits."""
    from kadr.features.describe import measure
    from kadr.features.effnet import softmax
    from kadr.features.imagenet import imagenet_classes, short_label

    names = imagenet_classes()
    p = softmax(logits)
    out = []
    for j, im in enumerate(images):
        top = np.argsort(-p[j])[:3]
        labs = [(short_label(names[k]), float(p[j, k])) for r, k in enumerate(top) if r == 0 or p[j, k] >= 0.05]
        d = measure(im, labs)
        if shot_seconds is not None and shot_seconds[j] is not None:
            d.shot_seconds = float(shot_seconds[j])
        out.append(d.text())
    return out


def text_columns(images: list[np.ndarray], logits: np.ndarray, bridge: Any, *, describer: Any = None,
                 shot_seconds: Sequence[float | None] | None = None) -> TextColumns:
    """The text columns of pictures whose classifier ``logits`` are known."""
    sem = bridge.from_logits(logits) if len(images) else np.zeros((0, 384), np.float32)
    if describer is None or describer == DEFAULT_DESCRIBER:
        desc = measured_texts(images, logits, shot_seconds)
    else:
        desc = describer.describe(images)
    dvec = bridge.text.encode_text(desc) if desc else np.zeros((0, 384), np.float32)
    return TextColumns(sem.astype(np.float32), desc, dvec.astype(np.float32))


def open_describer(name: str | None):
    """``None``/``"measured"`` → the measured description; ``caption:PATH`` → a captioning model."""
    if name is None or name == DEFAULT_DESCRIBER:
        return DEFAULT_DESCRIBER
    kind, _, path = str(name).partition(":")
    if kind.strip().lower() != "caption" or not path.strip():
        raise InputError(f"describer must be 'measured' or 'caption:/path/to/model-folder', got {name!r}")
    from kadr.features.caption import Captioner

    return Captioner(path.strip())


#: Candidates taken from each column's own nearest-neighbour search before exact re-scoring:
#: max(CANDIDATES_MIN, CANDIDATES_PER_HIT * k).
CANDIDATES_MIN, CANDIDATES_PER_HIT = 200, 20


def check_semantic(store: Any, encoder: str) -> None:
    """Refuse (one line naming the fix) a text query on a table without semantic vectors; warn
    when only part of the rows have them."""
    import warnings

    from kadr.errors import KadrWarning
    from kadr.index.schema import SEMANTIC_COLUMN

    have, n = store.text_coverage(encoder, SEMANTIC_COLUMN)
    if n and not have:
        raise InputError(f"the table of {encoder!r} in {str(store.path)!r} has no semantic vectors (indexed before "
                         f"text search, or with --no-semantic), so --text cannot rank it; fill them with "
                         f"`kadr index backfill --db {store.path}` and search again")
    if have < n:
        warnings.warn(f"{n - have} of {n} rows have no semantic vector and cannot be found by text; run "
                      f"`kadr index backfill --db {store.path}`", KadrWarning, stacklevel=3)


def semantic_search(index: Any, texts: list[str], images: Sequence[Any], frames: Sequence[str], *, k: int,
                    where: str | None, min_score: float | None, combine: str,
                    options: TextSearchOptions | None = None) -> list:
    """Rank rows of a table without a text tower by text (semantic + description vectors), and by
    images/frames too when given (their cosine in the ``vector`` column), combined per row by
    ``combine`` (mean or max of the per-query scores)."""
    from kadr.features.base import l2_normalise
    from kadr.index.schema import DESCRIPTION_VECTOR_COLUMN, SEMANTIC_COLUMN

    o = options or TextSearchOptions()
    store, enc = index.store, index.encoder_name
    check_semantic(store, enc)
    bridge = bridge_for(index.encoder)
    q_text = bridge.embed_text(texts)
    q_img = None
    if images or frames:
        q_img = index.embed_queries(images, frames=frames)
    # per query: (column weights, vector); mean-combine merges same-kind queries into one vector
    queries: list[tuple[str, np.ndarray]] = []
    if combine == "mean":
        queries.append(("text", l2_normalise(q_text.mean(axis=0, keepdims=True))[0]))
        if q_img is not None:
            queries.append(("image", l2_normalise(q_img.mean(axis=0, keepdims=True))[0]))
    else:
        queries += [("text", v) for v in q_text] + [("image", v) for v in (q_img if q_img is not None else [])]
    n_cand = max(CANDIDATES_MIN, CANDIDATES_PER_HIT * int(k))
    cand: dict[str, Any] = {}
    for kind, v in queries:
        cols = [SEMANTIC_COLUMN, DESCRIPTION_VECTOR_COLUMN] if kind == "text" else ["vector"]
        for col in cols:
            for h in store.search(enc, v, k=n_cand, where=where, column=col):
                cand.setdefault(h.id, h)
    if not cand:
        return []
    vecs = store.vectors(enc, list(cand), ["vector", SEMANTIC_COLUMN, DESCRIPTION_VECTOR_COLUMN])
    ids = [i for i in cand if i in vecs]

    def mat(col: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        rows = [vecs[i][col] for i in ids]
        ok = np.array([r is not None for r in rows])
        m = np.zeros((len(ids), dim), np.float32)
        if ok.any():
            m[ok] = np.asarray([r for r in rows if r is not None], np.float32)
        return m, ok

    sem, sem_ok = mat(SEMANTIC_COLUMN, 384)
    dv, dv_ok = mat(DESCRIPTION_VECTOR_COLUMN, 384)
    per_query = []
    for kind, v in queries:
        if kind == "text":
            s_sem, s_dv = sem @ v, dv @ v
            # rows without a description vector are scored by their semantic vector alone
            score = np.where(dv_ok, o.alpha * s_sem + (1 - o.alpha) * s_dv, s_sem)
            score = np.where(sem_ok, score, np.where(dv_ok, s_dv, -1.0))
        else:
            vis, _ = mat("vector", len(v))
            score = vis @ v
        per_query.append(score)
    total = np.mean(per_query, axis=0) if combine == "mean" else np.max(per_query, axis=0)
    order = np.argsort(-total, kind="stable")[:int(k)]
    hits = []
    for rank, j in enumerate(order):
        score = float(total[j])
        if min_score is not None and score < min_score:
            break
        h = cand[ids[j]]
        h.rank, h.score, h.metric = rank + 1, round(score, 6), "fused-cosine"
        hits.append(h)
    return hits
