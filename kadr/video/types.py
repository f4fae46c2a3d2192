"""The records that cross layers: transitions, shots, keyframes. Defined once, serialised once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Transition types kadr reports.
TRANSITION_TYPES = ("cut", "dissolve", "fade_in", "fade_out")


@dataclass
class Transition:
    """A shot boundary. Conventions of ``../shared/data/video/ground_truth.json``: for a
    ``cut`` start_frame = end_frame = the first frame of the new shot; a gradual transition
    spans [first changed frame, first settled frame] (inclusive). Times in seconds from PTS."""

    type: str
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Keyframe:
    frame: int
    time: float
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Shot:
    """A shot: frames [start_frame, end_frame) (end exclusive)."""

    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    keyframes: list[Keyframe] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
