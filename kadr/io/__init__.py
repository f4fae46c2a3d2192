"""Media input: images, videos (files, pipes, streams, webcams), sampling, timecodes."""

from kadr.io.files import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_video, walk_files
from kadr.io.images import ImageInfo, iter_image_paths, iter_images, load_image, read_image
from kadr.io.probe import ProbeResult, probe
from kadr.io.sources import Source, resolve_source
from kadr.io.timecode import format_smpte, format_time, parse_time, split_frame_ref, timecode
from kadr.io.video import DecodeStats, Frame, Sampling, VideoReader

__all__ = [
    "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "is_video", "walk_files", "ImageInfo", "iter_image_paths", "iter_images", "load_image", "read_image",
    "ProbeResult", "probe", "Source", "resolve_source", "timecode", "format_smpte", "format_time", "parse_time",
    "split_frame_ref", "DecodeStats", "Frame", "Sampling", "VideoReader",
]
