"""kadr classify: top classes of images (ImageNet, or free text labels with a text model)."""

from __future__ import annotations

from kadr.cli._common import add_encoder_arguments, add_k_argument, open_encoder

COMMAND = "classify"
HELP = "classify images: ImageNet classes (effnet-lite0) or zero-shot text labels (CLIP/SigLIP)"
DESCRIPTION = """Print the top classes of each image. The default model, effnet-lite0, knows the
1000 ImageNet classes and works offline. A CLIP or SigLIP folder classifies zero-shot
against your own labels (--labels "cat,dog,car"), scoring "a photo of a {label}."
(CLIP: softmax over the labels; SigLIP: an independent sigmoid per label).
Folders are walked for images; undecodable files are skipped and listed.

example:
  kadr classify photo.jpg
  kadr classify photos/ -k 3 --json
  kadr classify frame.png --encoder clip:/models/clip-vit-b32 --labels "cat,dog,car"
"""


#: Images held in memory at once.
CHUNK = 64


def add_arguments(parser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    add_k_argument(parser, default=5, what="classes per image")
    parser.add_argument("--labels", default=None, metavar="A,B,C",
                        help="comma-separated labels for zero-shot classification (CLIP/SigLIP models)")
    parser.add_argument("--prompt", default=None, metavar="TEXT",
                        help="prompt template for --labels, '{}' marks the label (default: 'a photo of a {}.')")
    add_encoder_arguments(parser)


def run(args):
    import warnings

    from kadr.errors import InputError, KadrWarning
    from kadr.features.base import batched, check_k
    from kadr.features.imagenet import short_label
    from kadr.io.images import iter_images

    check_k(args.k)
    labels = [x.strip() for x in args.labels.split(",") if x.strip()] if args.labels is not None else None
    if labels is not None and not labels:
        raise InputError("--labels is empty; give comma-separated labels, e.g. --labels 'cat,dog,car'")
    extra = {}
    if args.prompt is not None:
        if str(args.encoder).partition(":")[0].lower() not in ("clip", "siglip"):
            raise InputError("--prompt applies to zero-shot text models (clip:PATH, siglip:PATH) only")
        extra["prompt"] = args.prompt  # the encoder checks it holds '{}'
    encoder = open_encoder(args, **extra)
    skipped: list = []
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadrWarning)
        for chunk in batched(iter_images(args.images, skipped=skipped), CHUNK):  # bounded memory
            preds = encoder.classify([im for _, im in chunk], k=args.k, labels=labels,
                                     batch_size=args.batch_size)
            rows.extend({"path": str(p), "predictions": [dict(pr.to_dict(), name=_name(pr, labels, short_label))
                                                        for pr in ps]} for (p, _), ps in zip(chunk, preds))
    if not rows:
        raise InputError("no decodable image in " + ", ".join(args.images) +
                         "".join(f"; {s.reason}" for s in skipped))
    return {"encoder": encoder.name, "model": encoder.name, "labels": labels or "imagenet", "results": rows,
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped]}


def _name(pred, labels, short_label) -> str:
    return pred.label if labels else short_label(pred.label)


def render(result, args) -> None:
    for row in result["results"]:
        print(row["path"])
        for p in row["predictions"]:
            print(f"  {p['score']:7.4f}  {p['name']}")
    for s in result["skipped"]:
        print(f"skipped {s['path']}: {s['reason']}")
