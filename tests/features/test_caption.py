"""Captioners from a local folder (tiny random BLIP saved to a temp dir), the transformers 5.x
processor file, the quiet "Loading weights" bar, and the measured description."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.errors import ModelLoadError

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory):
    from tests.features.conftest import make_tiny_blip

    return make_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


def test_captioner_writes_one_text_per_picture(blip_dir, photos):
    from kadr.features.caption import Captioner

    cap = Captioner(blip_dir, max_new_tokens=5)
    out = cap.describe([photos["chelsea"], photos["rocket"], photos["coffee"]])
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    # the reference: transformers' own generate on the processor's pixels (random weights: any words)
    model = transformers.BlipForConditionalGeneration.from_pretrained(blip_dir).eval()
    proc = transformers.AutoProcessor.from_pretrained(blip_dir)
    from PIL import Image

    with torch.no_grad():
        ids = model.generate(**proc(images=[Image.fromarray(photos["chelsea"])], return_tensors="pt"),
                             max_new_tokens=5, do_sample=False)
    assert out[0] == " ".join(proc.batch_decode(ids, skip_special_tokens=True)[0].split())


def test_caption_folder_errors(tmp_path, blip_dir):
    import shutil

    from kadr.features.caption import Captioner

    with pytest.raises(ModelLoadError, match="not found"):
        Captioner(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        Captioner(tmp_path / "empty")
    broken = tmp_path / "no-tok"
    shutil.copytree(blip_dir, broken)
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (broken / f).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="tokenizer"):
        Captioner(broken)


def test_clip_folder_saved_by_transformers5_processor_is_accepted(clip_dir, tmp_path, photos):
    """issue 13: CLIPProcessor.save_pretrained (5.x) writes processor_config.json, not preprocessor_config.json."""
    import shutil

    from kadr import features

    d = tmp_path / "clip5"
    d.mkdir()
    for f in ("config.json", "model.safetensors"):
        shutil.copy(clip_dir / f, d / f)
    ip = transformers.AutoImageProcessor.from_pretrained(clip_dir)
    tok = transformers.AutoTokenizer.from_pretrained(clip_dir)
    transformers.CLIPProcessor(image_processor=ip, tokenizer=tok).save_pretrained(d)
    assert not (d / "preprocessor_config.json").exists()
    enc = features.get(f"clip:{d}", cache=False)
    ref = features.get(f"clip:{clip_dir}", cache=False)
    np.testing.assert_allclose(enc.encode_images([photos["chelsea"]]), ref.encode_images([photos["chelsea"]]),
                               atol=1e-5)


def test_clip_vision_only_folder_is_refused(tmp_path):
    from kadr import features
    from tests.features.conftest import VISION

    d = tmp_path / "vision-only"
    transformers.CLIPVisionModel(transformers.CLIPVisionConfig(**VISION)).save_pretrained(d)
    with pytest.raises(ModelLoadError, match="only the vision tower.*text tower"):
        features.get(f"clip:{d}", cache=False)


def test_no_loading_weights_bar_on_a_non_tty_stderr(clip_dir, capfd):
    from kadr import features

    capfd.readouterr()
    features.get(f"clip:{clip_dir}", cache=False)
    _, err = capfd.readouterr()
    assert "Loading weights" not in err


def test_measured_description_fields(photos):
    from kadr.features.describe import describe_images, measure

    red = np.zeros((60, 80, 3), np.uint8)
    red[...] = (210, 20, 20)
    d = measure(red)
    assert d.uniform and d.colours[0][0] == "red" and d.kind == "measured"
    assert "flat red frame" in d.text()
    grey = np.repeat(photos["chelsea"].mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert measure(grey).greyscale and "black and white" in measure(grey).text()
    (cat,) = describe_images([photos["chelsea"]])
    assert cat.labels and "cat" in cat.labels[0][0].lower() and not cat.uniform
    assert cat.to_dict()["text"] == cat.text()
