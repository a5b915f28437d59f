"""OpenCV with its decoder's own pixel cap in place: import cv2 from here, never directly.

The cap is read from the environment when OpenCV loads, so it is set before the first import.
It backs up the header check in kuzet.inference.imaging: should a file's header ever mislead
that check, the decoder still refuses to allocate more than this many pixels.
"""

from __future__ import annotations

import os

DEFAULT_DECODER_MAX_PIXELS = 40_000_000
os.environ.setdefault("CV_IO_MAX_IMAGE_PIXELS", str(DEFAULT_DECODER_MAX_PIXELS))

import cv2  # noqa: E402  (must follow the environment setting above)


def decoder_max_pixels() -> int:
    """The cap OpenCV runs with (an operator may raise it with CV_IO_MAX_IMAGE_PIXELS)."""
    return int(os.environ["CV_IO_MAX_IMAGE_PIXELS"])


__all__ = ["cv2", "decoder_max_pixels"]
