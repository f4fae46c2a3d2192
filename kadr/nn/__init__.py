"""kadr.nn — small, exact and fast building blocks for learning to compare.

- KAN layers: :class:`KANLinear`, :class:`KAN`, :func:`fit`, :func:`export_onnx`
  (bases: ``bspline``, ``chebyshev``, ``bernstein``, ``rbf``; see :mod:`kadr.nn.basis`).
- Losses (:mod:`kadr.nn.losses`): ``info_nce``, ``siglip_loss``, ``dino_loss``, ``kd_loss``,
  ``gce_loss``; :class:`DinoCentre`, :func:`ema_update`, :class:`LossMix`.
- Comparison heads (:mod:`kadr.nn.head`): :class:`ComparisonHead`, :func:`train_head` (InfoNCE).
- Recurrent cells (:mod:`kadr.nn.recurrent`): :class:`SRU`, :class:`TimeMix`, batch-first and streaming.

Layer: imports only kadr.errors, kadr._checks, kadr._registry and torch.
"""

from kadr.nn import losses, recurrent
from kadr.nn.basis import BASES
from kadr.nn.fit import fit
from kadr.nn.head import ComparisonHead, train_head
from kadr.nn.kan import KAN, KANLinear, export_onnx, grid_from_samples
from kadr.nn.losses import DinoCentre, LossMix, dino_loss, ema_update, gce_loss, info_nce, kd_loss, siglip_loss
from kadr.nn.recurrent import SRU, TimeMix

__all__ = [
    "BASES", "ComparisonHead", "train_head", "KAN", "KANLinear", "fit", "export_onnx", "grid_from_samples",
    "losses", "recurrent", "info_nce", "siglip_loss", "dino_loss", "kd_loss", "gce_loss",
    "DinoCentre", "ema_update", "LossMix", "SRU", "TimeMix",
]
