"""kadr embed: images, folders and videos → an embedding file."""

from __future__ import annotations

from kadr.cli._common import add_encoder_arguments, add_output_argument, open_encoder

COMMAND = "embed"
HELP = "embed images, folders and video frames with an encoder into .parquet or .npy"
DESCRIPTION = """Embed images, image folders (walked recursively) and videos with an encoder and
save the L2-normalised float32 vectors. Videos are sampled at --fps frames per second, or
with --keyframes reduced to the keyframes of their shots (shot detection + keyframe picking).
Files that cannot be decoded are skipped and listed; the rest is embedded.

Output: .parquet (columns source, frame, time, embedding; encoder name in the metadata) or
.npy (the (N, D) array) with a .json of the same name listing source/frame/time per row.
Decoding and resizing run in a loader thread, overlapped with inference.

example:
  kadr embed photos/ -o photos.parquet
  kadr embed clip.mp4 --fps 2 -o clip.npy --encoder hsv-hist
  kadr embed clip.mp4 --keyframes -o keys.parquet --json
  kadr embed photos/ --encoder clip:/models/clip-vit-b32 -o clip.parquet
"""


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or video files")
    add_output_argument(parser, required=True, metavar="FILE", help="output .parquet or .npy")
    parser.add_argument("--fps", type=float, default=1.0,
                        help="video frames per second to embed (default: 1; 0 = every frame)")
    parser.add_argument("--keyframes", action="store_true",
                        help="for videos, embed the keyframes of each shot instead of sampling by --fps")
    add_encoder_arguments(parser)


def _keyframe_items(encoder, video, skipped):
    """(items, embeddings) of the keyframes of every shot of one video."""
    import numpy as np

    from kadr.errors import DecodeError, InputError
    from kadr.features.pipeline import MediaItem
    from kadr.io.images import SkippedFile
    from kadr.video.keyframes import detect_shots_and_keyframes

    try:
        _, picked, _ = detect_shots_and_keyframes(str(video), encoder=encoder)
    except (DecodeError, InputError) as exc:
        skipped.append(SkippedFile(str(video), str(exc)))
        return [], np.zeros((0, encoder.dim), np.float32)
    items = [MediaItem(str(video), k.frame, k.time) for sk in picked for k in sk.keyframes]
    embs = [sk.embeddings for sk in picked if len(sk.embeddings)]
    return items, (np.concatenate(embs) if embs else np.zeros((0, encoder.dim), np.float32))


def run(args):
    import time
    import warnings

    import numpy as np

    from kadr._checks import check_output_file, check_positive
    from kadr._progress import track
    from kadr.cli._output import log
    from kadr.errors import InputError, KadrWarning
    from kadr.features.pipeline import embed_media, is_video, iter_media, media_files, write_embeddings

    if args.fps:
        check_positive(args.fps, "--fps")
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not args.output.lower().endswith((".parquet", ".npy")):
        raise InputError(f"--output must end in .parquet or .npy, got {args.output!r}")
    check_output_file(args.output)  # before the work, not after it
    encoder = open_encoder(args)
    files = list(media_files(args.paths))
    if not files:
        raise InputError(f"no image or video files in {', '.join(args.paths)}")
    skipped: list = []
    items: list = []
    blocks: list[np.ndarray] = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadrWarning)  # skipped files are listed in the result
        if args.keyframes:
            for video in [f for f in files if is_video(f)]:
                it, emb = _keyframe_items(encoder, video, skipped)
                items.extend(it)
                blocks.append(emb)
            files = [f for f in files if not is_video(f)]
        stream = iter_media(files, fps=args.fps or None, skipped=skipped)
        for keys, emb in track(embed_media(encoder, stream, batch_size=args.batch_size), desc="embed", unit="batches"):
            items.extend(keys)
            blocks.append(emb)
    seconds = time.perf_counter() - t0
    if not items:
        raise InputError("nothing could be embedded: " + "; ".join(f"{s.path}: {s.reason}" for s in skipped))
    emb = np.concatenate([b for b in blocks if len(b)])
    written = write_embeddings(args.output, items, emb, encoder=encoder.name)
    for s in skipped:
        log(f"kadr: warning: skipped {s.path}: {s.reason}")
    return {"encoder": encoder.name, "model": encoder.name, "dim": int(emb.shape[1]), "count": len(items),
            "sources": len({it.source for it in items}), "output": [str(p) for p in written],
            "backend": getattr(encoder, "backend", "numpy"), "seconds": round(seconds, 3),
            "images_per_s": round(len(items) / seconds, 2) if seconds > 0 else None,
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped]}


def render(result, args) -> None:
    print(f"{result['count']} embeddings ({result['dim']}-d, {result['encoder']}, {result['backend']}) "
          f"from {result['sources']} sources in {result['seconds']:.1f} s ({result['images_per_s']} images/s)")
    print("wrote " + ", ".join(result["output"]))
    if result["skipped"]:
        print(f"skipped {len(result['skipped'])} file(s) that could not be decoded (listed above)")
