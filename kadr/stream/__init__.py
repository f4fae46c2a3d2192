"""Stream watching: find reference images — or the items of any source of references, a
database among them — in a file, pipe, URL or webcam, with events as they happen.

* :class:`Watcher` / :func:`watch` — the loop (:mod:`kadr.stream.watcher`);
* :class:`QueryBank`, :func:`query_crops` — references as banks of views (:mod:`kadr.stream.bank`);
* :class:`EventTracker`, :class:`MatchEvent` — per-sample scores → events (:mod:`kadr.stream.events`);
* :class:`ReferenceSource` — what a database implements to be watched for (:mod:`kadr.stream.references`);
* :class:`Calibration` — per-encoder cosine → calibrated score (:mod:`kadr.stream.calibration`);
* :class:`WatchOptions` — every default (:mod:`kadr.stream.options`).

Layer: uses io, features, metrics and video; kadr.index and the CLI use it.
"""

from kadr.stream.bank import QueryBank, query_crops
from kadr.stream.events import EventTracker, MatchEvent
from kadr.stream.options import CENTRE_MODES, CROP_MODES, WatchOptions
from kadr.stream.references import ReferenceSource, ShotLookup
from kadr.stream.calibration import CALIBRATIONS, Calibration, calibration_for
from kadr.stream.watcher import StreamStalledError, Watcher, WatchStats, watch

__all__ = ["WatchOptions", "CROP_MODES", "CENTRE_MODES", "MatchEvent", "WatchStats", "QueryBank", "EventTracker",
           "ReferenceSource", "ShotLookup", "Watcher", "query_crops", "watch", "Calibration", "CALIBRATIONS",
           "calibration_for", "StreamStalledError"]
