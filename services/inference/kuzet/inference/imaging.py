"""Turning request images into BGR pixel arrays, refusing what is not a usable image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kuzet.common.errors import InvalidArgument, ResourceExhausted
from kuzet.inference.opencv import cv2
from kuzet.inference.v1 import inference_pb2 as pb

# Only the formats callers are documented to send: keeps the decoder surface small.
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = 40_000_000
    max_side: int = 16384
    min_side: int = 8


def _check_size(where: str, width: int, height: int, limits: ImageLimits) -> None:
    if width < limits.min_side or height < limits.min_side:
        raise InvalidArgument(f"{where}: {width}x{height} is smaller than {limits.min_side} pixels a side")
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise ResourceExhausted(
            f"{where}: {width}x{height} exceeds the limit of {limits.max_pixels} pixels "
            f"/ {limits.max_side} a side"
        )


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic), which carry the size.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_MARKERS and pos + 9 <= len(data):
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height
        if length < 2:
            return None
        pos += 2 + length
    return None


def _encoded_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the file header, so a decompression bomb (a small file declaring a
    huge image) is refused before the decoder allocates its pixels."""
    if data.startswith(_PNG_MAGIC) and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(_JPEG_MAGIC):
        return _jpeg_size(data)
    return None


def decode_encoded(data: bytes, where: str, limits: ImageLimits) -> np.ndarray:
    if not data:
        raise InvalidArgument(f"{where}: empty image")
    if not (data.startswith(_JPEG_MAGIC) or data.startswith(_PNG_MAGIC)):
        raise InvalidArgument(f"{where}: not a JPEG or PNG file")
    header = _encoded_size(data)
    if header is None:
        # The decoder would skip what this parser cannot read and decode whatever size follows.
        raise InvalidArgument(f"{where}: cannot read the image size from its header (malformed image)")
    _check_size(where, *header, limits)
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if array is None or array.ndim != 3 or array.shape[2] != 3:
        raise InvalidArgument(f"{where}: corrupt or truncated image, cannot decode")
    _check_size(where, array.shape[1], array.shape[0], limits)
    return array


# JPEG can decode at 1/2, 1/4 or 1/8 scale directly from the DCT, several times faster than a
# full decode followed by a resize.
_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


def decode_for_model(
    image: pb.Image, where: str, limits: ImageLimits, min_side: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """BGR pixels good enough for a model whose input's longest side is ``min_side``, and the
    image's full size: a large JPEG is decoded at the coarsest scale that still covers the model
    input; everything else at full size."""
    data = image.encoded if image.WhichOneof("content") == "encoded" else b""
    header = _jpeg_size(data) if data.startswith(_JPEG_MAGIC) else None
    if header is None or min_side <= 0:
        array = decode_image(image, where, limits)
        return array, (int(array.shape[1]), int(array.shape[0]))
    _check_size(where, *header, limits)
    for factor, flag in _REDUCED:
        if max(header) // factor >= min_side:
            reduced = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
            if reduced is None or reduced.ndim != 3:
                raise InvalidArgument(f"{where}: corrupt or truncated image, cannot decode")
            width, height = header
            # EXIF orientation is applied by the decoder: the frame header has the sensor's axes.
            if (reduced.shape[1] > reduced.shape[0]) != (width > height) and width != height:
                width, height = height, width
            return reduced, (width, height)
    array = decode_encoded(data, where, limits)
    return array, (int(array.shape[1]), int(array.shape[0]))


def decode_raw(raw: pb.RawImage, where: str, limits: ImageLimits) -> np.ndarray:
    if raw.width <= 0 or raw.height <= 0:
        raise InvalidArgument(f"{where}: raw image needs a positive width and height")
    _check_size(where, raw.width, raw.height, limits)
    expected = raw.width * raw.height * 3
    data = raw.data  # each access of a protobuf bytes field copies it: read it once
    if len(data) != expected:
        raise InvalidArgument(
            f"{where}: raw {raw.width}x{raw.height} 24-bit image needs {expected} bytes, got {len(data)}"
        )
    array = np.frombuffer(data, np.uint8).reshape(raw.height, raw.width, 3)
    if raw.format == pb.PIXEL_FORMAT_RGB24:
        return np.ascontiguousarray(array[:, :, ::-1])
    if raw.format not in (pb.PIXEL_FORMAT_UNSPECIFIED, pb.PIXEL_FORMAT_BGR24):
        raise InvalidArgument(f"{where}: unknown pixel format {raw.format}")
    return array


def decode_image(image: pb.Image, where: str, limits: ImageLimits) -> np.ndarray:
    """BGR uint8 array (H, W, 3) of one request image."""
    kind = image.WhichOneof("content")
    if kind == "encoded":
        return decode_encoded(image.encoded, where, limits)
    if kind == "raw":
        return decode_raw(image.raw, where, limits)
    raise InvalidArgument(f"{where}: no image content (set encoded or raw)")


def encode_jpeg(bgr: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf)
