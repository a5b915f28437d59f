"""Pre- and post-processing against known inputs and outputs (no model involved)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kuzet.inference.opencv import cv2
from kuzet.inference.processing import align, faces, objects, pose, quality
from kuzet.inference.processing.geometry import Resize, fit_within, letterbox, nms, round_up


def test_letterbox_keeps_aspect_pads_right_bottom_and_maps_back() -> None:
    image = np.full((100, 200, 3), 255, np.uint8)
    boxed, placement = letterbox(image, 64, 64, *fit_within(200, 100, 64))
    assert boxed.shape == (64, 64, 3)
    assert boxed[:32].min() == 255 and boxed[32:].max() == 0
    assert placement.to_source(np.array([[64.0, 32.0]])).tolist() == [[200.0, 100.0]]
    assert fit_within(100, 50, 640) == (100, 50)  # never upscales
    assert round_up(33, 32) == 64


def test_nms_keeps_best_of_overlapping_and_all_disjoint() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.8, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.95).tolist() == [1, 0, 2]


def test_similarity_transform_recovers_a_known_transform() -> None:
    angle, scale, shift = math.radians(20), 2.5, np.array([30.0, -12.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = align.ARCFACE_TEMPLATE
    dst = src @ rot.T + shift
    matrix = align.similarity_transform(src, dst)
    assert np.allclose(matrix[:, :2], rot, atol=1e-9)
    assert np.allclose(matrix[:, 2], shift, atol=1e-9)


def test_alignment_moves_landmarks_onto_the_template() -> None:
    # Draw dots at the template positions of a rotated, scaled face and check they land on the
    # template after alignment.
    angle, scale, shift = math.radians(-15), 3.0, np.array([200.0, 150.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    marks = align.ARCFACE_TEMPLATE @ rot.T + shift
    image = np.zeros((700, 700, 3), np.uint8)
    for x, y in marks:
        cv2.circle(image, (round(x), round(y)), 6, (255, 255, 255), -1)
    crop = align.align(image, marks)
    assert crop.shape == (112, 112, 3)
    for x, y in align.ARCFACE_TEMPLATE:
        assert crop[round(y), round(x)].min() > 200


def test_sface_input_is_rgb_nhwc_uint8() -> None:
    crop = np.zeros((112, 112, 3), np.uint8)
    crop[..., 0] = 10  # blue
    crop[..., 2] = 200  # red
    tensor = align.prepare([crop])[align.INPUT_NAME]
    assert tensor.shape == (1, 112, 112, 3) and tensor.dtype == np.uint8
    assert tensor[0, 0, 0, 0] == 200 and tensor[0, 0, 0, 2] == 10


def _yunet_outputs(rows: int, cols: int) -> dict[str, np.ndarray]:
    out = {}
    for s in faces.STRIDES:
        n = (rows * 32 // s) * (cols * 32 // s)
        out[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        out[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    return out


def test_yunet_decoding_of_a_known_anchor() -> None:
    # Input 64x96 (H x W); stride 16 has 4 rows x 6 cols. Anchor at row 2, col 3 (index 15).
    out = _yunet_outputs(2, 3)
    out["cls_16"][0, 15, 0] = 0.81
    out["obj_16"][0, 15, 0] = 1.0
    out["bbox_16"][0, 15] = [0.5, 0.25, math.log(2.0), math.log(3.0)]
    out["kps_16"][0, 15] = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]
    placement = Resize(0.5, 0.5, 96, 64)  # the source was 192x128
    found = faces.decode(out, 0, (64, 96), placement, (192, 128), min_score=0.5)
    assert len(found) == 1
    face = found[0]
    assert face.score == pytest.approx(0.9)
    cx, cy, w, h = (3 + 0.5) * 16, (2 + 0.25) * 16, 2 * 16, 3 * 16
    expected = [(cx - w / 2) * 2, (cy - h / 2) * 2, (cx + w / 2) * 2, (cy + h / 2) * 2]
    assert [face.box.x1, face.box.y1, face.box.x2, face.box.y2] == pytest.approx(expected)
    assert face.landmarks[0] == pytest.approx((3 * 16 * 2, 2 * 16 * 2))
    assert face.landmarks[4] == pytest.approx((4 * 16 * 2, 3 * 16 * 2))
    assert faces.decode(out, 0, (64, 96), placement, (192, 128), min_score=0.95) == []


def test_yunet_batch_pads_to_the_largest_multiple_of_32() -> None:
    feeds, placements = faces.prepare([np.zeros((100, 50, 3), np.uint8), np.zeros((40, 70, 3), np.uint8)])
    assert feeds[faces.INPUT_NAME].shape == (2, 128, 96, 3)
    assert feeds[faces.INPUT_NAME].dtype == np.uint8
    assert placements[0].scale_x == 1.0 and placements[1].width == 70


def test_centernet_decoding_maps_to_source_filters_classes_and_suppresses_duplicates() -> None:
    image = np.zeros((1024, 512, 3), np.uint8)  # portrait: scaled by 0.5, content 256 x 512
    feeds, placements = objects.prepare([image])
    assert feeds[objects.INPUT_NAME].shape == (1, 512, 512, 3)
    assert feeds[objects.INPUT_NAME].dtype == np.uint8
    assert placements[0] == Resize(0.5, 0.5, 256, 512)
    rows = np.zeros((100, 6), np.float32)
    rows[0] = [10, 20, 110, 220, 0.9, 0]  # person
    rows[1] = [12, 22, 112, 222, 0.6, 0]  # the same person again
    rows[2] = [0, 0, 300, 300, 0.8, 5]  # bus, spills into the padding
    rows[3] = [0, 0, 50, 50, 0.95, 16]  # dog: not reported
    rows[4] = [0, 0, 50, 50, 0.2, 2]  # car below threshold
    found = objects.decode(rows, placements[0], (512, 1024), 0.35)
    assert [(o.class_name, round(o.score, 2)) for o in found] == [("person", 0.9), ("bus", 0.8)]
    person, bus = found
    assert (person.box.x1, person.box.y1, person.box.x2, person.box.y2) == (20, 40, 220, 440)
    assert bus.box.x2 == 512  # clipped to the source
    only_bus = objects.decode(rows, placements[0], (512, 1024), 0.35, {"bus"})
    assert [o.class_name for o in only_bus] == ["bus"]
    rows[5] = [60, 60, 160, 100, 0.7, 8]  # a boat: reported only to those who ask for boats
    boats = objects.decode(rows, placements[0], (512, 1024), 0.35, {"boat"})
    assert [(o.class_name, round(o.score, 2)) for o in boats] == [("boat", 0.7)]


def test_movenet_decoding_maps_normalised_keypoints_to_source() -> None:
    feeds, placements = pose.prepare([np.zeros((480, 640, 3), np.uint8)])
    tensor = feeds[pose.INPUT_NAME]
    assert tensor.shape == (1, 192, 256, 3) and tensor.dtype == np.uint8
    people = np.zeros((6, 56), np.float32)
    people[0, :51] = np.tile([0.5, 0.25, 0.9], 17)
    people[0, 51:55] = [0.1, 0.2, 0.9, 0.8]
    people[0, 55] = 0.7
    people[1, 55] = 0.1
    found = pose.decode(people, (192, 256), placements[0], (640, 480), 0.25)
    assert len(found) == 1
    nose = found[0].keypoints[0]
    assert nose.part == "nose"
    assert (nose.x, nose.y) == pytest.approx((0.25 * 256 / 0.4, 0.5 * 192 / 0.4))
    assert found[0].box.x1 == pytest.approx(0.2 * 256 / 0.4)
    assert found[0].box.y2 == pytest.approx(0.9 * 192 / 0.4)


def test_quality_flags_small_blurred_and_turned_faces() -> None:
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 4)
    frontal = align.ARCFACE_TEMPLATE * 2
    good = quality.assess(sharp, frontal)
    assert good.issues == () and good.score > 0.9
    assert good.yaw_asymmetry < 0.05 and abs(good.roll_deg) < 1
    assert "blurry" in quality.assess(blurred, frontal).issues
    assert "too_small" in quality.assess(sharp, align.ARCFACE_TEMPLATE * 0.4).issues
    turned = frontal.copy()
    turned[2, 0] = turned[1, 0] - 2  # nose almost at one eye: a profile
    q = quality.assess(sharp, turned)
    assert "pose" in q.issues and q.pose_score < 0.5


def test_image_headers_are_read_before_decoding() -> None:
    from kuzet.common.errors import InvalidArgument, ResourceExhausted
    from kuzet.inference.imaging import ImageLimits, _encoded_size, decode_encoded

    image = np.zeros((30, 50, 3), np.uint8)
    for ext in (".jpg", ".png"):
        data = bytes(cv2.imencode(ext, image)[1])
        assert _encoded_size(data) == (50, 30)
        assert decode_encoded(data, "x", ImageLimits()).shape == (30, 50, 3)
    jpeg = bytearray(cv2.imencode(".jpg", image)[1])
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")
    with pytest.raises(ResourceExhausted, match="60000x60000"):
        decode_encoded(bytes(jpeg), "images[0]", ImageLimits())
    with pytest.raises(InvalidArgument, match="smaller than"):
        decode_encoded(bytes(cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1]), "x", ImageLimits())


def test_image_whose_size_cannot_be_read_is_refused_before_decoding() -> None:
    from kuzet.common.errors import InvalidArgument
    from kuzet.inference.imaging import ImageLimits, decode_encoded

    # A large image behind one junk byte: libjpeg skips the byte and would decode it whole.
    big = bytes(cv2.imencode(".jpg", np.zeros((2000, 2000, 3), np.uint8))[1])
    after_app0 = 4 + int.from_bytes(big[4:6], "big")
    junk = big[:after_app0] + b"\x00" + big[after_app0:]
    assert cv2.imdecode(np.frombuffer(junk, np.uint8), cv2.IMREAD_COLOR).shape == (2000, 2000, 3)
    with pytest.raises(InvalidArgument, match="cannot read the image size"):
        decode_encoded(junk, "images[0]", ImageLimits(max_pixels=1_000_000))
    png = bytes(cv2.imencode(".png", np.zeros((30, 50, 3), np.uint8))[1])
    for broken in (png[:20], png[:12] + b"JUNK" + png[16:]):
        with pytest.raises(InvalidArgument, match="cannot read the image size"):
            decode_encoded(broken, "x", ImageLimits())


def test_opencv_runs_with_its_own_pixel_cap() -> None:
    import os

    from kuzet.inference.config import InferenceSettings
    from kuzet.inference.opencv import decoder_max_pixels

    assert decoder_max_pixels() == int(os.environ["CV_IO_MAX_IMAGE_PIXELS"]) > 0
    with pytest.raises(ValueError, match="CV_IO_MAX_IMAGE_PIXELS"):
        InferenceSettings(max_image_pixels=decoder_max_pixels() + 1)


def test_raw_frames_in_either_colour_order_decode_to_the_same_bgr() -> None:
    from kuzet.common.inference.client import image_pb
    from kuzet.inference.imaging import ImageLimits, decode_image
    from kuzet.inference.v1 import inference_pb2 as pb

    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    as_bgr = image_pb(bgr)
    assert as_bgr.raw.format == pb.PIXEL_FORMAT_BGR24
    rgb = pb.Image(
        raw=pb.RawImage(width=30, height=20, format=pb.PIXEL_FORMAT_RGB24, data=bgr[:, :, ::-1].tobytes())
    )
    for image in (as_bgr, rgb):
        assert np.array_equal(decode_image(image, "x", ImageLimits()), bgr)
    with pytest.raises(ValueError, match="uint8 BGR"):
        image_pb(bgr.astype(np.float32))


def test_large_jpegs_decode_at_the_scale_the_model_needs() -> None:
    from kuzet.inference.imaging import ImageLimits, decode_for_model
    from kuzet.inference.v1 import inference_pb2 as pb

    image = np.zeros((1500, 2100, 3), np.uint8)
    cv2.rectangle(image, (200, 300), (1800, 1200), (255, 255, 255), -1)
    jpeg = pb.Image(encoded=bytes(cv2.imencode(".jpg", image)[1]))
    for min_side, shape in [(512, (375, 525)), (640, (750, 1050)), (1200, (1500, 2100)), (0, (1500, 2100))]:
        array, size = decode_for_model(jpeg, "x", ImageLimits(), min_side)
        assert array.shape[:2] == shape and size == (2100, 1500)
    png = pb.Image(encoded=bytes(cv2.imencode(".png", image)[1]))
    array, size = decode_for_model(png, "x", ImageLimits(), 512)
    assert array.shape[:2] == (1500, 2100) and size == (2100, 1500)
