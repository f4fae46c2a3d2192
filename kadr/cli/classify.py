"""kadr classify: top classes of images (ImageNet, or free text labels with a text model)."""

from __future__ import annotations

from kadr.cli._common import add_encoder_arguments, add_k_argument, open_encoder

COMMAND = "classify"
HELP = "classify images: ImageNet classes, or zero-shot labels of your own (--labels \"dog, cat, car\")"
DESCRIPTION = """Print the top classes of each image. The default encoder, effnet-lite0, knows the
1000 ImageNet classes and works offline. --labels "dog, cat, car" classifies zero-shot
against your own labels, offline too: the image's semantic vector (its ImageNet
probabilities projected into the MiniLM text space) is compared with "a photo of a {label}."
and the cosines turned into probabilities over your labels (softmax, temperature 0.05).
A CLIP or SigLIP folder uses its own text tower instead (CLIP: softmax over the labels;
SigLIP: an independent sigmoid per label). Labels are comma-separated (";" works too).
Folders are walked for images; undecodable files are skipped and listed.

example:
  kadr classify photo.jpg
  kadr classify photos/ -k 3 --json
  kadr classify photo.jpg --labels "dog, cat, car"
  kadr classify frame.png --encoder clip:/models/clip-vit-b32 --labels "cat,dog,car"
"""


#: Images held in memory at once.
CHUNK = 64


def add_arguments(parser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    add_k_argument(parser, default=5, what="classes per image")
    parser.add_argument("--labels", default=None, metavar="A,B,C",
                        help="comma-separated labels for zero-shot classification, e.g. \"dog, cat, car\"")
    parser.add_argument("--prompt", default=None, metavar="TEXT",
                        help="prompt template for --labels, '{}' marks the label (default: 'a photo of a {}.')")
    add_encoder_arguments(parser)


def run(args):
    import warnings

    from kadr.errors import InputError, KadrWarning
    from kadr.features.base import batched, check_k
    from kadr.features.imagenet import short_label
    from kadr.io.images import iter_images

    from kadr.features.semantic import parse_labels

    check_k(args.k)
    labels = parse_labels(args.labels) if args.labels is not None else None
    extra = {}
    kind = str(args.encoder).partition(":")[0].lower()
    if args.prompt is not None:
        if labels is None:
            raise InputError("--prompt needs --labels (it is the template the labels are put into)")
        if "{}" not in args.prompt:
            raise InputError(f"--prompt must contain '{{}}' where the label goes, got {args.prompt!r}")
        if kind in ("clip", "siglip"):
            extra["prompt"] = args.prompt
    encoder = open_encoder(args, **extra)
    if labels is not None and not encoder.supports_text and not kind.startswith("effnet-lite"):
        raise InputError(f"--labels needs an ImageNet classifier (effnet-lite0/1/2) or a CLIP/SigLIP folder; "
                         f"{args.encoder!r} cannot classify")
    skipped: list = []
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadrWarning)
        for chunk in batched(iter_images(args.images, skipped=skipped), CHUNK):  # bounded memory
            preds = _classify(encoder, [im for _, im in chunk], args, labels, kind)
            rows.extend({"path": str(p), "predictions": [dict(pr.to_dict(), name=_name(pr, labels, short_label))
                                                        for pr in ps]} for (p, _), ps in zip(chunk, preds))
    if not rows:
        raise InputError("no decodable image in " + ", ".join(args.images) +
                         "".join(f"; {s.reason}" for s in skipped))
    return {"encoder": encoder.name, "model": encoder.name, "labels": labels or "imagenet", "results": rows,
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped]}


def _classify(encoder, images, args, labels, kind):
    if labels is not None and kind.startswith("effnet-lite") and args.prompt is not None:
        from kadr.features.semantic import BridgeOptions, get_bridge

        o = BridgeOptions(**{**BridgeOptions().to_dict(), "classifier": encoder.name})
        return get_bridge(o, classifier=encoder).zero_shot(images, labels, k=args.k, batch_size=args.batch_size,
                                                           prompt=args.prompt)
    return encoder.classify(images, k=args.k, labels=labels, batch_size=args.batch_size)


def _name(pred, labels, short_label) -> str:
    return pred.label if labels else short_label(pred.label)


def render(result, args) -> None:
    for row in result["results"]:
        print(row["path"])
        for p in row["predictions"]:
            print(f"  {p['score']:7.4f}  {p['name']}")
    for s in result["skipped"]:
        print(f"skipped {s['path']}: {s['reason']}")
