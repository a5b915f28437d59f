"""Contract tests against a real tritonserver (2.51 from nvidia-pytriton, python backend running
the same ONNX files): readiness, metadata, batched inference equal to the embedded backend, a
model that is not loaded, a server that goes away and comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kuzet.common.errors import Unavailable
from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import FaceInput, InferenceClient
from kuzet.common.testing import missing_component
from kuzet.inference.backends.embedded import EmbeddedBackend
from kuzet.inference.backends.triton import TritonBackend
from kuzet.inference.catalog import Catalog
from kuzet.inference.config import InferenceSettings
from kuzet.inference.engine import FaceRequest, InferenceEngine
from kuzet.inference.processing import faces
from kuzet.inference.server import SERVICE_NAME, build
from kuzet.inference.tritonlocal import LocalTriton, TritonUnavailable, pytriton_root

pytestmark = pytest.mark.slow

# movenet stays in the repository, not loaded
LOADED = ["yunet", "sface", "centernet", "ppocrv4_det", "ppocrv4_rec"]


def _require_triton() -> None:
    try:
        pytriton_root()
    except TritonUnavailable as exc:
        missing_component(f"{exc} (scripts/setup/triton.sh)")


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    _require_triton()
    server = LocalTriton(tmp_path_factory.mktemp("triton"), models=LOADED)
    server.start(timeout_s=120)
    yield server
    server.stop()


@pytest.fixture
async def backend(triton: LocalTriton) -> AsyncIterator[TritonBackend]:
    b = TritonBackend(triton.url, retry_s=1.0)
    await b.start()
    yield b
    await b.close()


def _bgr(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def _alnum(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


async def test_readiness_and_metadata(backend: TritonBackend, catalog: Catalog) -> None:
    assert await backend.server_ready()
    for name in LOADED:
        assert (await backend.model_state(catalog.models[name])).ready
    meta = await backend.metadata(catalog.models["sface"])
    assert meta["inputs"] == [{"name": "data", "datatype": "UINT8", "shape": ["-1", "112", "112", "3"]}]
    assert [o["name"] for o in meta["outputs"]] == ["fc1"]


async def test_batched_inference_equals_embedded(
    backend: TritonBackend, embedded: EmbeddedBackend, catalog: Catalog, face_photos: dict[str, list[Path]]
) -> None:
    images = [_bgr(p) for p in [*face_photos["obama"], *face_photos["biden"]]]
    spec = catalog.models["yunet"]
    feeds, _ = faces.prepare(images)
    assert feeds[faces.INPUT_NAME].shape[0] == 6
    via_triton = await backend.infer(spec, feeds, faces.OUTPUT_NAMES)
    direct = await embedded.infer(spec, feeds, faces.OUTPUT_NAMES)
    for name in faces.OUTPUT_NAMES:
        np.testing.assert_allclose(via_triton[name], direct[name], rtol=1e-4, atol=1e-4)
    stats = await backend.counters(spec)
    assert stats.inference_count >= 6 and stats.execution_count >= 1


async def test_domain_results_of_both_backends_agree(
    backend: TritonBackend,
    embedded: EmbeddedBackend,
    catalog: Catalog,
    face_photos: dict[str, list[Path]],
    street_photos: list[Path],
    car_photo: Path,
) -> None:
    on_triton, on_embedded = InferenceEngine(catalog, backend), InferenceEngine(catalog, embedded)
    street = [_bgr(p) for p in street_photos]
    _, a = await on_triton.detect_objects(street)
    _, b = await on_embedded.detect_objects(street)
    for x, y in zip(a, b, strict=True):
        assert [o.class_name for o in x.objects] == [o.class_name for o in y.objects]
        for ox, oy in zip(x.objects, y.objects, strict=True):
            assert ox.score == pytest.approx(oy.score, abs=1e-3)
            assert ox.box.x1 == pytest.approx(oy.box.x1, abs=0.5)
    people = [_bgr(p) for p in face_photos["obama"][:3]]
    _, fa = await on_triton.detect_faces(people)
    _, fb = await on_embedded.detect_faces(people)
    assert [len(f.faces) for f in fa] == [len(f.faces) for f in fb] == [1, 1, 1]
    requests = [FaceRequest(i, np.array(f.faces[0].landmarks)) for i, f in enumerate(fb)]
    _, ea = await on_triton.embed_faces(people, requests)
    _, eb = await on_embedded.embed_faces(people, requests)
    for x, y in zip(ea, eb, strict=True):
        assert float(x.vector @ y.vector) > 0.9999
    car = [_bgr(car_photo)]
    da, ra, pa = await on_triton.read_plates(car)
    db, rb, pb_ = await on_embedded.read_plates(car)
    assert (da, ra) == (db, rb) and da.name == "ppocrv4_det" and ra.name == "ppocrv4_rec"
    assert [p.text for p in pa[0].plates] == [p.text for p in pb_[0].plates]
    # The emblem between the letters and the digits reads as a symbol; the caller drops it.
    assert pa[0].plates and _alnum(pa[0].plates[0].text) == "5AU5341"
    for x, y in zip(pa[0].plates, pb_[0].plates, strict=True):
        assert x.confidence == pytest.approx(y.confidence, abs=1e-3)
        assert x.box.x1 == pytest.approx(y.box.x1, abs=0.5)


async def test_the_service_on_triton_reports_a_model_that_is_not_loaded(
    triton: LocalTriton, street_photos: list[Path], car_png: bytes, free_port: int
) -> None:
    settings = InferenceSettings(port=free_port, backend="triton", triton_url=triton.url, triton_retry_s=0.5)
    server = await build(settings)
    address = await server.start()
    try:
        async with open_channel(address, audience="inference") as channel:
            client = InferenceClient(channel)
            jpeg = street_photos[0].read_bytes()
            found = await client.detect_faces([jpeg])
            assert len(found[0].faces) == 2
            embedded = await client.embed_faces(
                [jpeg], [FaceInput.from_detection(0, f) for f in found[0].faces]
            )
            assert len(embedded) == 2 and embedded[0].model.name == "sface"
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await client.estimate_poses([jpeg])
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "movenet" in (err.value.details() or "")
            models = {m.name: m for m in await client.list_models()}
            assert not models["movenet"].ready and "not loaded" in models["movenet"].detail
            assert models["yunet"].ready and models["yunet"].backend == "triton"
            info, stats = await client.model_status("yunet")
            assert info.ready and stats.execution_count >= 1
            plates = await client.read_plates([car_png], max_plates=1)
            assert [_alnum(p.text) for p in plates[0].plates] == ["5AU5341"]
    finally:
        await server.stop(0)


async def _health(stub: health_pb2_grpc.HealthStub) -> int:
    response = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    return int(response.status)


async def _until_health(stub: health_pb2_grpc.HealthStub, status: int, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await _health(stub) != status:
        assert asyncio.get_running_loop().time() < deadline, f"health never became {status}"
        await asyncio.sleep(0.1)


async def test_server_goes_away_and_comes_back(tmp_path: Path, catalog: Catalog, free_port: int) -> None:
    _require_triton()
    triton = LocalTriton(tmp_path, models=["yunet"])
    triton.start(timeout_s=120)
    backend = TritonBackend(triton.url, retry_s=0.5)
    spec = catalog.models["yunet"]
    feeds, _ = faces.prepare([np.zeros((64, 64, 3), np.uint8)])
    settings = InferenceSettings(
        port=free_port,
        backend="triton",
        triton_url=triton.url,
        triton_retry_s=0.5,
        triton_health_interval_s=0.2,
    )
    service = await build(settings)
    address = await service.start()
    channel = open_channel(address, audience="inference")
    client, health = InferenceClient(channel), health_pb2_grpc.HealthStub(channel)
    image = np.zeros((64, 64, 3), np.uint8)
    try:
        await backend.infer(spec, feeds, faces.OUTPUT_NAMES)
        assert await _health(health) == health_pb2.HealthCheckResponse.SERVING
        triton.stop()
        with pytest.raises(Unavailable, match="unreachable"):
            await backend.infer(spec, feeds, faces.OUTPUT_NAMES)
        assert not (await backend.model_state(spec)).ready
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.detect_faces([image])
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "unreachable" in (
            err.value.details() or ""
        )
        await _until_health(health, health_pb2.HealthCheckResponse.NOT_SERVING)
        triton.start(timeout_s=120)
        out = await backend.infer(spec, feeds, faces.OUTPUT_NAMES)
        assert out["cls_8"].shape[0] == 1
        assert (await backend.model_state(spec)).ready
        await _until_health(health, health_pb2.HealthCheckResponse.SERVING)
        assert (await client.detect_faces([image]))[0].faces == []
    finally:
        await channel.close()
        await service.stop(0)
        await backend.close()
        triton.stop()
