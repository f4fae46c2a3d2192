"""Oriented boxes in torch: conversions, exact polygon IoU, frame helpers.

Box format ``xywhr``: a tensor ``(..., 5)`` holding ``(cx, cy, w, h, angle)`` in pixel
coordinates of an image whose x axis points right and y axis points **down** (the frame
covers ``[0, W] x [0, H]``; pixel ``(row i, column j)`` has its centre at
``(j + 0.5, i + 0.5)``). ``angle`` is in **radians**; a positive angle turns the box's
``w`` axis from +x towards +y, i.e. clockwise as seen on screen — the convention of
OpenCV's ``RotatedRect`` (degrees there), ultralytics' ``xywhr`` and mmrotate. Use
:func:`xywhd_to_xywhr` / :func:`xywhr_to_xywhd` to convert from / to degrees.

Every function is batched (any leading shape, broadcasting between the two box arguments
of a pairwise function: pass ``a[:, None]`` and ``b[None]`` for an ``N x M`` matrix) and
differentiable with respect to the box parameters. Inputs may be tensors, numpy arrays or
nested lists; integers become ``float32``, other floating dtypes are kept.

Bad input (see :func:`check_boxes`): a last dimension other than 5, NaN/inf anywhere, or
``w <= 0`` / ``h <= 0`` raises :class:`~kadr.errors.InputError` naming the first bad box;
nothing returns NaN silently.

One package, four modules, each importing only the ones before it:

* :mod:`~kadr.geometry.boxes.core` — validation, angle conventions, corners;
* :mod:`~kadr.geometry.boxes.polygon` — exact polygon intersection / IoU, frame helpers;
* :mod:`~kadr.geometry.boxes.gaussian` — boxes as Gaussians, ProbIoU, GWD, KLD, KFIoU;
* :mod:`~kadr.geometry.boxes.pixels` — the pixel IoU (PIoU), soft box masks and Gaussian heat maps.

Everything public is importable from ``kadr.geometry.boxes``.
"""

from kadr.geometry.boxes.core import (as_boxes, box_area, check_boxes, corners_to_xywhr, normalise_angle,
                                      normalize_angle, xywhd_to_xywhr, xywhr_to_corners, xywhr_to_xywhd,
                                      xyxy_to_xywhr)
from kadr.geometry.boxes.gaussian import (COVARIANCE_CONVENTIONS, gaussian_to_xywhr, gwd, gwd_loss, kfiou,
                                          kfiou_loss, kld, kld_loss, probiou, probiou_loss, xywhr_to_gaussian)
from kadr.geometry.boxes.pixels import gaussian_mask, piou, piou_loss, soft_box_mask
from kadr.geometry.boxes.polygon import (clip_polygon, clip_to_frame, inside, intersection_area, polygon_area,
                                         polygon_iou, polygon_iou_loss)

__all__ = [
    "as_boxes", "check_boxes", "xywhd_to_xywhr", "xywhr_to_xywhd", "normalise_angle",
    "xywhr_to_corners", "corners_to_xywhr", "xyxy_to_xywhr", "box_area",
    "xywhr_to_gaussian", "gaussian_to_xywhr", "COVARIANCE_CONVENTIONS",
    "polygon_area", "clip_polygon", "intersection_area", "polygon_iou", "polygon_iou_loss",
    "inside", "clip_to_frame",
    "probiou", "probiou_loss", "gwd", "gwd_loss", "kld", "kld_loss", "kfiou", "kfiou_loss",
    "piou", "piou_loss", "soft_box_mask", "gaussian_mask",
    "normalize_angle",  # deprecated spelling of normalise_angle, kept for one release
]
