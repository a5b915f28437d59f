"""Every shipped model loads from the package with its pinned SHA-256, without any network."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kuzet.inference.catalog import MODELS_DIR, ModelIntegrityError, load_catalog

# Runs in a fresh interpreter whose sockets refuse to connect anywhere: a model that tried to
# fetch something would fail the test.
_OFFLINE_LOAD = """
import socket, json
def refuse(*args, **kwargs):
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
from kuzet.inference.catalog import load_catalog
from kuzet.inference.backends.embedded import EmbeddedBackend
catalog = load_catalog()
backend = EmbeddedBackend(catalog, intra_op_threads=1)
backend.load()
print(json.dumps({m.name: (m.name in backend._sessions, backend._errors.get(m.name, "")) for m in catalog}))
"""


def test_manifest_lists_every_shipped_file_with_provenance() -> None:
    manifest = json.loads((MODELS_DIR / "MANIFEST.json").read_text())
    files = {m["file"] for m in manifest["models"] if not m.get("package")}
    assert files == {p.name for p in MODELS_DIR.glob("*.onnx")}, "every shipped file is in the manifest"
    for m in manifest["models"]:
        for key in ("license", "source", "sha256", "derivation", "version"):
            assert m[key], f"{m['name']}: {key} missing"
        assert len(m["sha256"]) == 64


def test_every_model_loads_offline_with_verified_sha256() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_LOAD], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    names = ("centernet", "yunet", "sface", "movenet", "ppocrv4_det", "ppocrv4_rec")
    assert loaded == {name: [True, ""] for name in names}


def test_text_models_load_from_their_installed_package_and_need_it() -> None:
    spec = load_catalog().models["ppocrv4_rec"]
    assert spec.package == "rapidocr-onnxruntime"
    assert spec.path.is_file() and "rapidocr_onnxruntime" in spec.path.parts
    spec.verify()
    absent = dataclasses.replace(spec, package="kuzet-no-such-distribution")
    with pytest.raises(ModelIntegrityError, match="kuzet-no-such-distribution is not installed"):
        absent.verify()


def test_a_tampered_model_file_is_refused(tmp_path: Path) -> None:
    shutil.copy(MODELS_DIR / "MANIFEST.json", tmp_path / "MANIFEST.json")
    original = load_catalog().models["yunet"].path
    data = bytearray(original.read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / original.name).write_bytes(bytes(data))
    spec = load_catalog(tmp_path).models["yunet"]
    with pytest.raises(ModelIntegrityError, match="sha256"):
        spec.verify()
    missing = load_catalog(tmp_path).models["sface"]
    with pytest.raises(ModelIntegrityError, match="missing"):
        missing.verify()
