"""The inference service over gRPC with the embedded backend, on real photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np
import pytest

from kuzet.common.inference.client import FaceInput, InferenceClient
from kuzet.common.inference.results import DetectedObject
from kuzet.common.v1 import common_pb2
from kuzet.inference.v1 import inference_pb2 as pb


def read_bgr(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def _count(found: list[DetectedObject], name: str) -> int:
    return sum(1 for o in found if o.class_name == name)


async def test_detects_people_and_the_bus_in_street_photos(
    service: InferenceClient, street_photos: list[Path]
) -> None:
    bus, zidane = street_photos
    # One encoded, one raw BGR frame (as ingest sends decoded video).
    results = await service.detect_objects([bus.read_bytes(), read_bgr(zidane)])
    assert len(results) == 2
    on_bus, on_zidane = results
    assert (on_bus.width, on_bus.height) == (810, 1080)
    assert _count(on_bus.objects, "person") >= 3
    assert _count(on_bus.objects, "bus") == 1
    assert _count(on_zidane.objects, "person") >= 1
    for o in on_bus.objects:
        assert 0 <= o.box.x1 < o.box.x2 <= 810 and 0 <= o.box.y1 < o.box.y2 <= 1080
    # The bus covers most of the width in the lower middle of the photo.
    (vehicle,) = [o for o in on_bus.objects if o.class_name == "bus"]
    assert vehicle.box.width > 600 and vehicle.box.y1 < 300
    only_people = await service.detect_objects([bus.read_bytes()], classes=["person"])
    assert {o.class_name for o in only_people[0].objects} == {"person"}


async def test_two_photos_of_one_person_embed_closer_than_two_people(
    service: InferenceClient, face_photos: dict[str, list[Path]]
) -> None:
    paths = [*face_photos["obama"], *face_photos["biden"]]
    images = [p.read_bytes() for p in paths]
    detected = await service.detect_faces(images, max_faces=1)
    assert all(len(d.faces) == 1 for d in detected)
    for d in detected:
        assert d.faces[0].score > 0.8 and len(d.faces[0].landmarks) == 5
    embeddings = await service.embed_faces(
        images,
        [FaceInput.from_detection(i, d.faces[0]) for i, d in enumerate(detected)],
        return_aligned_crops=True,
    )
    vectors = np.stack([e.vector for e in embeddings])
    assert vectors.shape == (6, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    same = [sims[i, j] for i in range(5) for j in range(i + 1, 5)]
    different = [sims[i, 5] for i in range(5)]
    assert min(same) > max(different) + 0.3, (same, different)
    assert min(same) > 0.5 and max(different) < 0.35
    first = embeddings[0]
    assert (first.model.name, first.model.version) == ("sface", "2021dec")
    assert first.quality.acceptable and first.quality.inter_eye_px > 80
    crop = cv2.imdecode(np.frombuffer(first.aligned_crop_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape == (112, 112, 3)
    # The aligned crop given back embeds (nearly) the same as the face it came from.
    again = await service.embed_faces([first.aligned_crop_jpeg])
    assert float(again[0].vector @ first.vector) > 0.9


async def test_quality_flags_a_tiny_blurred_face(
    service: InferenceClient, face_photos: dict[str, list[Path]]
) -> None:
    image = read_bgr(face_photos["obama"][0])
    small = cv2.resize(
        cv2.GaussianBlur(image, (0, 0), 3), None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA
    )
    detected = await service.detect_faces([small], min_score=0.5)
    assert detected[0].faces, "the face is still detectable"
    (embedding,) = await service.embed_faces([small], [FaceInput.from_detection(0, detected[0].faces[0])])
    assert "too_small" in embedding.quality.issues
    assert embedding.quality.score < 0.5


async def test_poses_of_people_in_a_street_photo(service: InferenceClient, street_photos: list[Path]) -> None:
    (result,) = await service.estimate_poses([street_photos[0].read_bytes()])
    assert len(result.poses) >= 2
    best = result.poses[0]
    assert len(best.keypoints) == 17 and best.keypoints[0].part == "nose"
    # A standing person: ankles well below the nose, inside the person's box.
    nose, ankle = best.keypoints[0], best.keypoints[15]
    assert ankle.y - nose.y > 200
    assert best.box.x1 - 20 <= nose.x <= best.box.x2 + 20


async def test_models_are_listed_with_provenance_and_statistics(service: InferenceClient) -> None:
    models = {m.name: m for m in await service.list_models()}
    assert set(models) == {"centernet", "yunet", "sface", "movenet", "ppocrv4_det", "ppocrv4_rec"}
    assert all(m.ready and m.backend == "embedded" for m in models.values())
    assert models["sface"].license == "Apache-2.0" and models["sface"].is_default
    assert models["centernet"].max_batch_size == 1
    await service.detect_faces([np.zeros((64, 64, 3), np.uint8)])
    info, stats = await service.model_status("yunet")
    assert info.task == "face_detection" and stats.execution_count >= 1
    assert models["ppocrv4_det"].task == "text_detection" and models["ppocrv4_det"].is_default
    assert models["ppocrv4_rec"].task == "text_recognition" and models["ppocrv4_rec"].license == "Apache-2.0"


async def _code(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), err.value.details() or ""


async def test_bad_input_gets_a_clear_status_and_the_service_keeps_serving(
    service: InferenceClient, street_photos: list[Path]
) -> None:
    jpeg = street_photos[0].read_bytes()
    stub = service.stub
    cases = [
        (
            stub.DetectObjects(pb.DetectObjectsRequest(images=[pb.Image(encoded=jpeg[:2000])])),
            "INVALID_ARGUMENT",
            "corrupt",
        ),
        (
            stub.DetectFaces(pb.DetectFacesRequest(images=[pb.Image(encoded=b"GIF89a....")])),
            "INVALID_ARGUMENT",
            "JPEG or PNG",
        ),
        (
            stub.DetectFaces(
                pb.DetectFacesRequest(
                    images=[pb.Image(raw=pb.RawImage(width=10, height=10, data=b"x" * 299))]
                )
            ),
            "INVALID_ARGUMENT",
            "needs 300 bytes",
        ),
        (stub.DetectObjects(pb.DetectObjectsRequest()), "INVALID_ARGUMENT", "empty batch"),
        (
            stub.DetectFaces(pb.DetectFacesRequest(images=[pb.Image()])),
            "INVALID_ARGUMENT",
            "no image content",
        ),
        (
            stub.DetectObjects(pb.DetectObjectsRequest(images=[pb.Image(encoded=jpeg)], model="yolo")),
            "NOT_FOUND",
            "yolo",
        ),
        (stub.GetModelStatus(pb.GetModelStatusRequest(name="nope")), "NOT_FOUND", "nope"),
        (
            stub.DetectObjects(pb.DetectObjectsRequest(images=[pb.Image(encoded=jpeg)], model="sface")),
            "INVALID_ARGUMENT",
            "face_embedding",
        ),
        (
            stub.DetectObjects(pb.DetectObjectsRequest(images=[pb.Image(encoded=jpeg)] * 9)),
            "RESOURCE_EXHAUSTED",
            "limit is 8",
        ),
        (
            stub.DetectFaces(
                pb.DetectFacesRequest(
                    images=[pb.Image(raw=pb.RawImage(width=2500, height=2000, data=bytes(2500 * 2000 * 3)))]
                )
            ),
            "RESOURCE_EXHAUSTED",
            "exceeds",
        ),
        (
            stub.DetectFaces(pb.DetectFacesRequest(images=[pb.Image(encoded=jpeg)], min_score=1.5)),
            "INVALID_ARGUMENT",
            "min_score",
        ),
        (
            stub.EmbedFaces(
                pb.EmbedFacesRequest(images=[pb.Image(encoded=jpeg)], faces=[pb.FaceToEmbed(image_index=3)])
            ),
            "INVALID_ARGUMENT",
            "image_index",
        ),
        (
            stub.EmbedFaces(
                pb.EmbedFacesRequest(
                    images=[pb.Image(encoded=jpeg)],
                    faces=[pb.FaceToEmbed(landmarks=[common_pb2.Point()] * 3)],
                )
            ),
            "INVALID_ARGUMENT",
            "5 landmarks",
        ),
    ]
    for call, code, words in cases:
        got, details = await _code(call)
        assert got.name == code, (code, words, got, details)
        assert words in details, details
    # Still serving after all of that.
    results = await service.detect_objects([jpeg])
    assert results[0].objects


async def test_each_model_execution_is_traced_inside_the_rpc_span(
    span_exporter: Any, service: InferenceClient, street_photos: list[Path]
) -> None:
    await service.detect_objects([street_photos[1].read_bytes()])
    spans = span_exporter.get_finished_spans()
    (execute,) = [s for s in spans if s.name == "inference.execute"]
    assert execute.attributes["kuzet.model"] == "centernet" and execute.attributes["kuzet.batch"] == 1
    rpc = [s for s in spans if "DetectObjects" in s.name]
    assert rpc and execute.context.trace_id == rpc[0].context.trace_id


async def test_large_jpegs_decoded_at_reduced_scale_give_source_pixel_results(
    service: InferenceClient, face_photos: dict[str, list[Path]]
) -> None:
    for path in (face_photos["obama"][2], face_photos["biden"][0]):  # 2333x1434 and 2204x970
        jpeg = path.read_bytes()
        frame = read_bgr(path)
        from_jpeg, from_frame = await service.detect_faces([jpeg, frame], max_faces=1)
        assert (from_jpeg.width, from_jpeg.height) == (frame.shape[1], frame.shape[0])
        a, b = from_jpeg.faces[0], from_frame.faces[0]
        tolerance = 0.05 * b.box.width
        for got, want in [
            (a.box.x1, b.box.x1),
            (a.box.y1, b.box.y1),
            (a.box.x2, b.box.x2),
            (a.box.y2, b.box.y2),
        ]:
            assert abs(got - want) < tolerance
        for (gx, gy), (wx, wy) in zip(a.landmarks, b.landmarks, strict=True):
            assert abs(gx - wx) < tolerance and abs(gy - wy) < tolerance
