"""ReadPlates: PP-OCRv4 text detection and recognition on rendered plates and a real car photo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np
import pytest

from kuzet.common.inference.client import InferenceClient
from kuzet.common.inference.results import ReadPlate
from kuzet.inference.backends.embedded import EmbeddedBackend
from kuzet.inference.catalog import Catalog
from kuzet.inference.engine import InferenceEngine
from kuzet.inference.processing import text_recognition
from kuzet.inference.v1 import inference_pb2 as pb

FRAME = (640, 480)
# Supersampling of the rendered plate before it is shrunk to camera size (anti-aliased glyphs).
_SUPERSAMPLE = 4


def render_plate(
    text: str,
    size: tuple[int, int] = (120, 30),
    angle_deg: float = 0.0,
    at: tuple[int, int] = (260, 300),
    frame: tuple[int, int] = FRAME,
    seed: int = 0,
) -> np.ndarray:
    """A white plate with a black border and black text, ``size`` pixels, turned ``angle_deg``
    counter-clockwise, its top left near ``at`` in a noisy grey frame (a car camera's view)."""
    w, h = size
    big = np.full((h * _SUPERSAMPLE, w * _SUPERSAMPLE, 3), 255, np.uint8)
    cv2.rectangle(big, (2, 2), (big.shape[1] - 3, big.shape[0] - 3), (0, 0, 0), 2 * _SUPERSAMPLE)
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, 2 * _SUPERSAMPLE)
    scale = min(big.shape[1] * 0.88 / tw, big.shape[0] * 0.62 / th)
    thickness = max(1, round(scale * 2.2))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = ((big.shape[1] - tw) // 2, (big.shape[0] + th) // 2)
    cv2.putText(big, text, origin, font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    plate = cv2.resize(big, size, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(
        rng.normal(110, 25, (frame[1], frame[0], 3)).clip(0, 255).astype(np.uint8), (5, 5), 0
    )
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    turn[:, 2] += at
    inside = cv2.warpAffine(np.full((h, w), 255, np.uint8), turn, frame) > 127
    image[inside] = cv2.warpAffine(plate, turn, frame)[inside]
    return image


@pytest.fixture(scope="module")
def engine(catalog: Catalog, embedded: EmbeddedBackend) -> InferenceEngine:
    return InferenceEngine(catalog, embedded)


PLATES = [
    ("123ABC02", (120, 30), 3.0),
    ("777AB01", (120, 30), -4.0),
    ("001KZA17", (100, 24), 2.0),
    ("543ZXC15", (150, 36), -6.0),
    ("A123BCD", (120, 30), 0.0),
]


async def test_rendered_plates_at_car_camera_sizes_are_read_exactly(engine: InferenceEngine) -> None:
    images = [render_plate(t, size, angle, seed=i) for i, (t, size, angle) in enumerate(PLATES)]
    detector, recogniser, results = await engine.read_plates(images)
    assert (detector.name, recogniser.name) == ("ppocrv4_det", "ppocrv4_rec")
    for (text, size, _), found in zip(PLATES, results, strict=True):
        assert (found.width, found.height) == FRAME
        assert [p.text for p in found.plates] == [text]
        plate = found.plates[0]
        assert plate.confidence > 0.9 and plate.detection_score > 0.5
        # The region covers the plate (placed at 260, 300) and little else.
        assert 230 < plate.box.x1 < 275 and 250 < plate.box.y1 < 315
        assert size[0] * 0.8 < plate.box.width < size[0] * 1.4


async def test_corners_follow_a_turned_plate_clockwise_from_the_top_left(engine: InferenceEngine) -> None:
    _, _, results = await engine.read_plates([render_plate("123ABC02", angle_deg=6.0)])
    plate = results[0].plates[0]
    (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = plate.corners
    assert tlx < trx and blx < brx and tly < bly and try_ < bry
    # Turned counter-clockwise: the top edge rises to the right by about 6 degrees.
    assert np.degrees(np.arctan2(tly - try_, trx - tlx)) == pytest.approx(6.0, abs=2.0)
    xs, ys = [x for x, _ in plate.corners], [y for _, y in plate.corners]
    assert (plate.box.x1, plate.box.y1, plate.box.x2, plate.box.y2) == (min(xs), min(ys), max(xs), max(ys))


async def test_an_image_without_text_has_no_plates_and_max_plates_keeps_the_best(
    engine: InferenceEngine,
) -> None:
    blank = np.full((200, 300, 3), 90, np.uint8)
    two = render_plate("777AB01", at=(60, 80))
    second = render_plate("123ABC02", size=(150, 36), at=(380, 320))
    two[300:380, 360:560] = second[300:380, 360:560]
    _, _, results = await engine.read_plates([blank, two])
    assert results[0].plates == [] and (results[0].width, results[0].height) == (300, 200)
    assert sorted(p.text for p in results[1].plates) == ["123ABC02", "777AB01"]
    scores = [p.detection_score for p in results[1].plates]
    assert scores == sorted(scores, reverse=True)
    _, _, best = await engine.read_plates([two], max_plates=1)
    assert [p.text for p in best[0].plates] == [results[1].plates[0].text]


def test_ctc_decoding_merges_repeats_and_drops_blanks() -> None:
    characters = ("", "A", "B", "7", " ")
    steps = [0, 1, 1, 0, 1, 3, 3, 0, 4, 2]
    probs = np.full((len(steps), len(characters)), 0.01, np.float32)
    probs[np.arange(len(steps)), steps] = [0.9, 0.8, 0.6, 0.9, 0.7, 0.5, 0.9, 0.9, 0.6, 0.8]
    reading = text_recognition.decode(probs, characters)
    assert reading.text == "AA7 B"
    # Confidence over the characters kept: the first of each run.
    assert reading.confidence == pytest.approx(np.mean([0.8, 0.7, 0.5, 0.6, 0.8]))
    assert text_recognition.decode(np.eye(len(characters))[[0, 0]], characters).text == ""


def _compact(plate: ReadPlate) -> str:
    return "".join(c for c in plate.text if c.isalnum())


async def test_the_plate_of_a_real_car_photo_is_found_and_read(
    service: InferenceClient, car_photo: Path, car_png: bytes
) -> None:
    found = await service.read_plates([car_png])
    assert (found[0].width, found[0].height) == (518, 331)
    plate = found[0].plates[0]
    assert _compact(plate) == "5AU5341"
    assert plate.confidence > 0.9
    # The plate sits at about x 305-388, y 187-211 in the photo.
    assert 295 < plate.box.x1 < 325 and 375 < plate.box.x2 < 400
    assert 180 < plate.box.y1 < 195 and 200 < plate.box.y2 < 218
    # Raw pixels (as ingest sends decoded frames) read the same.
    raw = await service.read_plates([cv2.imread(str(car_photo), cv2.IMREAD_COLOR)], max_plates=1)
    assert [_compact(p) for p in raw[0].plates] == ["5AU5341"]


async def _code(call: Any) -> tuple[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code().name, err.value.details() or ""


async def test_bad_plate_requests_get_a_clear_status(service: InferenceClient, car_png: bytes) -> None:
    png = car_png
    stub = service.stub
    cases = [
        (pb.ReadPlatesRequest(), "INVALID_ARGUMENT", "empty batch"),
        (pb.ReadPlatesRequest(images=[pb.Image(encoded=b"")]), "INVALID_ARGUMENT", "empty image"),
        (pb.ReadPlatesRequest(images=[pb.Image(encoded=b"not an image")]), "INVALID_ARGUMENT", "JPEG or PNG"),
        (pb.ReadPlatesRequest(images=[pb.Image(encoded=png[:300])]), "INVALID_ARGUMENT", "corrupt"),
        (pb.ReadPlatesRequest(images=[pb.Image(encoded=png)] * 9), "RESOURCE_EXHAUSTED", "limit is 8"),
        (
            pb.ReadPlatesRequest(images=[pb.Image(encoded=png)], min_score=1.5),
            "INVALID_ARGUMENT",
            "min_score",
        ),
        (
            pb.ReadPlatesRequest(images=[pb.Image(encoded=png)], max_plates=-1),
            "INVALID_ARGUMENT",
            "max_plates",
        ),
    ]
    for request, code, words in cases:
        got, details = await _code(stub.ReadPlates(request))
        assert (got, words) == (code, words) and words in details, details
    response = await stub.ReadPlates(pb.ReadPlatesRequest(images=[pb.Image(encoded=png)]))
    assert response.detector.name == "ppocrv4_det" and response.recogniser.name == "ppocrv4_rec"
    assert response.results[0].plates
