"""kadr export-onnx: write an encoder's network as ONNX and check it against PyTorch."""

from __future__ import annotations

COMMAND = "export-onnx"
HELP = "export a neural encoder (effnet-lite0, clip:, siglip:, dinov2:) to ONNX and verify it"
DESCRIPTION = """Export the image network of a neural encoder to an ONNX file (opset 17, dynamic
batch axis) and check it: onnxruntime and PyTorch embed the same test images and the
largest absolute difference of the L2-normalised embeddings is reported (it must stay
below --tolerance). Input of the graph: what the encoder's preprocessing makes
(effnet-lite0: uint8 (N, 224, 224, 3) RGB after short-side-224 bicubic + centre crop;
transformers models: float32 pixel_values (N, 3, H, W) from the folder's image processor).
effnet-lite0 outputs "features" (N, 1280) and "logits" (N, 1000).

example:
  kadr export-onnx effnet-lite0 lite0.onnx
  kadr export-onnx dinov2:/models/dinov2-small dinov2.onnx --json
"""


def add_arguments(parser) -> None:
    parser.add_argument("encoder", metavar="ENCODER", help="effnet-lite0, clip:PATH, siglip:PATH or dinov2:PATH")
    parser.add_argument("output", metavar="OUT.onnx", help="ONNX file to write")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest allowed |onnxruntime - torch| on normalised embeddings (default: 1e-4)")
    parser.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")


def run(args):
    from pathlib import Path

    import numpy as np

    from kadr import features
    from kadr._checks import atomic_path, check_output_file, check_positive
    from kadr.errors import InputError, KadrError
    from kadr.features.base import l2_normalise
    from kadr.features.runtime import ModelEncoder, OnnxRunner

    check_positive(args.tolerance, "--tolerance")
    out = Path(args.output)
    if out.suffix.lower() != ".onnx":
        raise InputError(f"the output file must end in .onnx, got {args.output!r}")
    check_output_file(out)  # before the export, not after it
    if not features.is_neural(args.encoder):
        raise InputError(f"{args.encoder!r} is not a neural encoder; ONNX export applies to "
                         "effnet-lite0, clip:PATH, siglip:PATH and dinov2:PATH")
    enc = features.get(args.encoder, backend="torch", cache=False)
    if not isinstance(enc, ModelEncoder):  # pragma: no cover - every neural encoder is one
        raise InputError(f"{args.encoder!r} cannot be exported")
    with atomic_path(out) as tmp:  # a failed export leaves no half-written file
        enc.export_onnx(tmp)
    result = {"encoder": enc.name, "model": enc.name, "output": str(out), "bytes": out.stat().st_size, "outputs": list(enc.output_names)}
    if not args.no_check:
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((240, 320), (300, 200), (64, 64))]
        batch = enc.preprocess(images)
        ref = l2_normalise(enc.runner(batch)[0])
        got = l2_normalise(OnnxRunner(out)(batch)[0])
        diff = float(np.abs(got - ref).max())
        result.update(input_shape=list(batch.shape[1:]), input_dtype=str(batch.dtype), max_abs_diff=diff,
                      tolerance=args.tolerance)
        if diff > args.tolerance:
            raise KadrError(f"the exported graph differs from PyTorch by {diff:.2e} (> {args.tolerance:g}); "
                            f"the file is kept at {str(out)!r} for inspection")
    return result
