"""Fixtures of the encoder tests: scikit-image sample photos and encoders loaded once."""

from __future__ import annotations

import json
import string

import numpy as np
import pytest

TINY = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
VISION = dict(TINY, image_size=32, patch_size=8)


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    from skimage import data

    return data.chelsea()  # 300 x 451 RGB photo of a tabby cat


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Colour sample photos of scikit-image (distinct sources)."""
    from skimage import data

    return {"astronaut": data.astronaut(), "chelsea": data.chelsea(), "coffee": data.coffee(),
            "rocket": data.rocket(), "motorcycle": data.stereo_motorcycle()[0],
            "immunohistochemistry": data.immunohistochemistry(), "hubble": data.hubble_deep_field(),
            "retina": data.retina(), "cat": data.cat(), "colorwheel": data.colorwheel()[..., :3]}


@pytest.fixture(scope="session")
def effnet():
    """The default effnet-lite0 (onnxruntime when installed: the fast path users get)."""
    from kadr import features

    return features.get("effnet-lite0")


@pytest.fixture(scope="session")
def effnet_torch():
    from kadr.features.effnet import EffNetLite0

    return EffNetLite0(backend="torch")


@pytest.fixture(scope="session")
def effnet_onnx():
    pytest.importorskip("onnxruntime")
    from kadr.features.effnet import EffNetLite0

    return EffNetLite0(backend="onnx")


def _tiny_model_folder(tmp_path_factory, name: str, seed: int):
    """(transformers, an empty folder) for a tiny random model, torch seeded; skips without transformers."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch").manual_seed(seed)
    return transformers, tmp_path_factory.mktemp(name)


@pytest.fixture(scope="session")
def dinov2_dir(tmp_path_factory):
    """A tiny randomly initialised DINOv2 (2 layers, width 32, 32 px input) saved with its processor."""
    transformers, d = _tiny_model_folder(tmp_path_factory, "tiny-dinov2", 2)
    cfg = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2,
                                    image_size=32, patch_size=8)
    transformers.Dinov2Model(cfg).save_pretrained(d)
    transformers.BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                   image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(d)
    return d


def _clip_tokenizer(folder) -> int:
    """A CLIP BPE tokenizer with a 62-token vocabulary written by hand (vocab.json + merges.txt)."""
    chars = list(string.ascii_lowercase) + list(".,")
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    merges = ["c a", "ca t</w>", "d o", "do g</w>"]
    for m in merges:
        vocab[m.replace(" ", "")] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    import transformers

    tok = transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    tok.save_pretrained(folder)
    return len(vocab)


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    """A tiny randomly initialised CLIP (width 32, 32 px input) with a hand-made BPE tokenizer."""
    transformers, d = _tiny_model_folder(tmp_path_factory, "tiny-clip", 0)
    n = _clip_tokenizer(d)
    text = dict(TINY, vocab_size=n, max_position_embeddings=16, bos_token_id=n - 2, eos_token_id=n - 1,
                pad_token_id=n - 1)
    cfg = transformers.CLIPConfig(text_config=text, vision_config=VISION, projection_dim=16)
    transformers.CLIPModel(cfg).save_pretrained(d)
    proc = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    proc.save_pretrained(d)
    return d


def make_tiny_blip(d):
    """A tiny randomly initialised BLIP captioner (width 32, 32 px input, a 13-word vocabulary)
    saved with BlipProcessor.save_pretrained into folder ``d`` (transformers 5 writes
    processor_config.json there). Returns ``d``."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    torch.manual_seed(3)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "photo", "of", "cat", "dog", "red", "."]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", unk_token="[UNK]",
                                               cls_token="[CLS]", sep_token="[SEP]", bos_token="[DEC]")
    text = dict(vocab_size=len(words), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=32, bos_token_id=5, pad_token_id=0, sep_token_id=3,
                eos_token_id=3)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8)
    cfg = transformers.BlipConfig(text_config=text, vision_config=vision, projection_dim=16)
    transformers.BlipForConditionalGeneration(cfg).save_pretrained(d)
    proc = transformers.BlipProcessor(image_processor=transformers.BlipImageProcessor(size={"height": 32, "width": 32}),
                                      tokenizer=tok)
    proc.save_pretrained(d)
    return d
