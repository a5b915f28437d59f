"""Fixtures: the shipped models loaded once, real photos, the service on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kuzet.common import testdata
from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import InferenceClient
from kuzet.common.testing import missing_component
from kuzet.inference.backends.embedded import EmbeddedBackend
from kuzet.inference.catalog import Catalog, load_catalog
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def embedded(catalog: Catalog) -> Iterator[EmbeddedBackend]:
    backend = EmbeddedBackend(catalog, intra_op_threads=2)
    backend.load()
    yield backend
    backend.shutdown()


@pytest.fixture(scope="session")
def face_photos() -> dict[str, list[Path]]:
    try:
        return testdata.face_photos()
    except testdata.TestDataUnavailable as exc:
        missing_component(f"face photos unavailable: {exc}")


@pytest.fixture(scope="session")
def street_photos() -> list[Path]:
    try:
        return testdata.street_photos()
    except testdata.TestDataUnavailable as exc:
        missing_component(f"street photos unavailable: {exc}")


@pytest.fixture(scope="session")
def car_photo() -> Path:
    try:
        return testdata.car_photo()
    except testdata.TestDataUnavailable as exc:
        missing_component(f"car photo unavailable: {exc}")


@pytest.fixture(scope="session")
def car_png(car_photo: Path) -> bytes:
    return car_photo.read_bytes()


@pytest.fixture
async def service(embedded: EmbeddedBackend, free_port: int) -> AsyncIterator[InferenceClient]:
    """The real gRPC service (embedded backend) and a client connected to it."""
    settings = InferenceSettings(port=free_port, max_batch_images=8, max_image_pixels=4_000_000)
    server = await build(settings, backend=embedded)
    address = await server.start()
    channel = open_channel(address, audience="inference")
    try:
        yield InferenceClient(channel)
    finally:
        await channel.close()
        await server.stop(0)
