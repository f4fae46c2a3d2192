"""transformers backends, tested on tiny randomly initialised models saved to temp folders.

No hub access: each fixture builds a config with a few 32-wide layers, saves model,
image processor and a hand-made tokenizer with ``save_pretrained``, and kadr loads the
folder through the same code path as a real checkpoint.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kadr import features
from kadr.errors import InputError, ModelLoadError, ShapeError
from tests.features.conftest import TINY, VISION

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")



def _wordlevel_tokenizer(folder) -> int:
    """A word-level tokenizer built with the tokenizers library, saved as tokenizer.json."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<pad>", "<unk>", "</s>", "a", "photo", "of", "cat", "dog", "car", "."]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", unk_token="<unk>",
                                                eos_token="</s>")
    fast.save_pretrained(folder)
    return len(words)


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    torch.manual_seed(1)
    d = tmp_path_factory.mktemp("tiny-siglip")
    n = _wordlevel_tokenizer(d)
    text = dict(TINY, vocab_size=n, max_position_embeddings=12, pad_token_id=0, bos_token_id=2, eos_token_id=2)
    cfg = transformers.SiglipConfig(text_config=text, vision_config=VISION)
    transformers.SiglipModel(cfg).save_pretrained(d)
    transformers.SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def images(photos):
    return [photos["chelsea"], photos["coffee"][:100], photos["rocket"]]


def _check_embeddings(emb, n, dim):
    assert emb.shape == (n, dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_clip_images_text_and_tokens(clip_dir, images):
    enc = features.get(f"clip:{clip_dir}")
    assert enc.dim == 16 and enc.supports_text and enc.name == f"clip:{clip_dir}"
    emb = enc.encode_images(images, batch_size=2)
    _check_embeddings(emb, 3, 16)
    # the reference: transformers' own CLIPModel on the processor's pixel values
    model = transformers.CLIPModel.from_pretrained(clip_dir).eval()
    proc = transformers.AutoImageProcessor.from_pretrained(clip_dir)
    with torch.no_grad():
        out = model.get_image_features(pixel_values=proc(images=images, return_tensors="pt")["pixel_values"])
    ref = getattr(out, "pooler_output", out).numpy()
    np.testing.assert_allclose(emb, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-5)
    text = enc.encode_text(["a cat", "a dog", "a photo of a car"])
    _check_embeddings(text, 3, enc.dim)  # text and image towers land in the same space
    tokens = enc.encode_tokens(images[:2])
    assert [t.shape for t in tokens] == [(1 + (32 // 8) ** 2, 32)] * 2  # CLS + 16 patches, width 32


def test_clip_zero_shot_is_softmax_over_labels(clip_dir, images):
    enc = features.get(f"clip:{clip_dir}")
    preds = enc.classify(images, labels=["cat", "dog", "car"], k=3)
    assert [len(p) for p in preds] == [3, 3, 3]
    for p in preds:
        assert sum(x.score for x in p) == pytest.approx(1.0, abs=1e-5)
        assert {x.label for x in p} == {"cat", "dog", "car"}
    # the scores are CLIP's logits_per_image softmax (independent computation by transformers)
    model = transformers.CLIPModel.from_pretrained(clip_dir).eval()
    proc = transformers.AutoImageProcessor.from_pretrained(clip_dir)
    tok = transformers.AutoTokenizer.from_pretrained(clip_dir)
    t = tok([enc.prompt.format(x) for x in ["cat", "dog", "car"]], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"],
                    pixel_values=proc(images=images[:1], return_tensors="pt")["pixel_values"])
    ref = out.logits_per_image.softmax(-1)[0].numpy()
    got = {x.label: x.score for x in preds[0]}
    np.testing.assert_allclose([got["cat"], got["dog"], got["car"]], ref, atol=1e-5)
    with pytest.raises(InputError, match="labels"):
        enc.classify(images, labels=[])


def test_siglip_sigmoid_scores(siglip_dir, images):
    enc = features.get(f"siglip:{siglip_dir}")
    assert enc.dim == 32 and enc.supports_text
    _check_embeddings(enc.encode_images(images), 3, 32)
    _check_embeddings(enc.encode_text(["a cat", "a dog"]), 2, 32)
    preds = enc.classify(images[:1], labels=["cat", "dog", "car"], k=2)[0]
    assert len(preds) == 2 and all(0 < p.score < 1 for p in preds)
    model = transformers.SiglipModel.from_pretrained(siglip_dir).eval()
    proc = transformers.AutoImageProcessor.from_pretrained(siglip_dir)
    tok = transformers.AutoTokenizer.from_pretrained(siglip_dir)
    t = tok([enc.prompt.format(x) for x in ["cat", "dog", "car"]], padding="max_length", max_length=12,
            return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=t["input_ids"], pixel_values=proc(images=images[:1], return_tensors="pt")["pixel_values"])
    ref = torch.sigmoid(out.logits_per_image)[0].numpy()  # SigLIP: independent sigmoid per label
    got = {p.label: p.score for p in preds}
    order = np.argsort(-ref)[:2]
    assert [p.label for p in preds] == [["cat", "dog", "car"][i] for i in order]
    np.testing.assert_allclose([got[["cat", "dog", "car"][i]] for i in order], ref[order], atol=1e-5)
    assert [t.shape for t in enc.encode_tokens(images[:1])] == [(16, 32)]  # patches only


def test_dinov2_has_no_text_tower(dinov2_dir, images):
    enc = features.get(f"dinov2:{dinov2_dir}")
    assert enc.dim == 32 and not enc.supports_text
    emb = enc.encode_images(images)
    _check_embeddings(emb, 3, 32)
    model = transformers.Dinov2Model.from_pretrained(dinov2_dir).eval()
    proc = transformers.AutoImageProcessor.from_pretrained(dinov2_dir)
    with torch.no_grad():
        ref = model(pixel_values=proc(images=images, return_tensors="pt")["pixel_values"]).pooler_output.numpy()
    np.testing.assert_allclose(emb, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-5)
    assert [t.shape for t in enc.encode_tokens(images[:1])] == [(17, 32)]
    with pytest.raises(InputError, match="no text tower"):
        enc.encode_text(["a cat"])
    with pytest.raises(InputError, match="cannot classify"):
        enc.classify(images, labels=["cat"])


def test_onnx_backend_matches_torch_for_a_vit(dinov2_dir, images, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("KADR_CACHE_DIR", str(tmp_path))
    t = features.get(f"dinov2:{dinov2_dir}", backend="torch", cache=False)
    o = features.get(f"dinov2:{dinov2_dir}", backend="onnx", cache=False)
    np.testing.assert_allclose(o.encode_images(images), t.encode_images(images), atol=1e-4)
    assert list((tmp_path / "onnx").glob("dinov2-*.onnx"))


def test_mismatched_dimensions_between_models(clip_dir, dinov2_dir, images):
    a = features.get(f"clip:{clip_dir}").encode_images(images[:1])
    b = features.get(f"dinov2:{dinov2_dir}").encode_images(images[:1])
    with pytest.raises(ShapeError, match="different encoders"):
        features.pairwise_cosine(a, b, ("clip", "dinov2"))


def test_bad_model_folders(tmp_path, clip_dir, dinov2_dir):
    with pytest.raises(ModelLoadError, match="not found"):
        features.get(f"clip:{tmp_path / 'nope'}")
    with pytest.raises(ModelLoadError, match="config.json"):
        features.get(f"clip:{tmp_path}")
    with pytest.raises(ModelLoadError, match="holds a 'dinov2' model.*dinov2:"):
        features.get(f"clip:{dinov2_dir}")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="JSON"):
        features.get(f"siglip:{tmp_path}")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "siglip"}))
    with pytest.raises(ModelLoadError, match="no weights"):
        features.get(f"siglip:{tmp_path}")
    # weights present but corrupt
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    (tmp_path / "preprocessor_config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="cannot load"):
        features.get(f"siglip:{tmp_path}")
    with pytest.raises(InputError, match="prompt"):
        features.get(f"clip:{clip_dir}", prompt="no placeholder")


def test_text_model_without_tokenizer_files(tmp_path, clip_dir):
    import shutil

    d = tmp_path / "clip-no-tokenizer"
    shutil.copytree(clip_dir, d, ignore=shutil.ignore_patterns("vocab.json", "merges.txt", "tokenizer*",
                                                                 "special_tokens_map.json"))
    with pytest.raises(ModelLoadError, match="tokenizer"):
        features.get(f"clip:{d}")
