"""The quality report: FMR/FNMR at each gallery's threshold and the ROC, from real photos."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from kuzet.common.testdata import face_photos, street_photos
from kuzet.identity.quality import evaluate, pair_scores

from .conftest import Running


def test_rates_and_roc_from_known_scores() -> None:
    genuine = np.array([0.9, 0.8, 0.7, 0.5])
    impostor = np.array([0.1, 0.2, 0.3, 0.6])
    points, roc, eer, eer_t = evaluate(genuine, impostor, {"a": 0.55, "b": 0.75})
    assert [(p.label, p.fmr, p.fnmr) for p in points] == [("a", 0.25, 0.25), ("b", 0.0, 0.5)]
    assert eer == pytest.approx(0.25) and 0.5 < eer_t <= 0.6
    fmrs = [p.fmr for p in roc]
    fnmrs = [p.fnmr for p in roc]
    assert fmrs == sorted(fmrs, reverse=True) and fnmrs == sorted(fnmrs)
    assert (roc[0].fmr, roc[0].fnmr, roc[-1].fmr, roc[-1].fnmr) == (1.0, 0.0, 0.0, 1.0)


def test_pairs_are_split_by_label() -> None:
    v = np.eye(3, dtype=np.float32)
    genuine, impostor = pair_scores(v, ["a", "a", "b"])
    assert genuine.size == 1 and impostor.size == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_report_on_real_photos_at_gallery_thresholds(
    identity_sqlite: Running, inference_address: str, tmp_path: Path
) -> None:
    folder = tmp_path / "people"
    for person, paths in face_photos().items():
        (folder / person).mkdir(parents=True)
        for p in paths:
            shutil.copy(p, folder / person / p.name)
    (folder / "zidane").mkdir()
    shutil.copy(street_photos()[1], folder / "zidane" / "zidane.jpg")
    (folder / "zidane" / "notes.txt").write_text("not an image")
    await identity_sqlite.gallery(name="strict roll-call", threshold=0.72)

    out = tmp_path / "report.json"
    db = identity_sqlite.app.settings.effective_database_url
    # The inference server runs on this event loop: the command must not block it.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kuzet.identity.quality",
        str(folder),
        "--inference",
        inference_address,
        "--database-url",
        db,
        "--thresholds",
        "0.3",
        "--json",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout_b, stderr_b = await asyncio.wait_for(proc.communicate(), 120)
    stdout = stdout_b.decode()
    assert proc.returncode == 0, stderr_b.decode()[-2000:]
    assert "FNMR" in stdout and "gallery strict roll-call (prison)" in stdout
    report = json.loads(out.read_text())
    assert report["model"] == "sface@2021dec"
    assert (report["people"], report["images"], report["genuine_pairs"], report["impostor_pairs"]) == (
        3,
        7,
        10,
        11,
    )
    by_label = {p["label"]: p for p in report["points"]}
    default = by_label["service default"]
    # The real photos separate cleanly at the default threshold (same person 0.68+, others < 0.3).
    assert default["threshold"] == pytest.approx(0.45) and default["fmr"] == 0 and default["fnmr"] == 0
    strict = by_label["gallery strict roll-call (prison)"]
    assert strict["fmr"] == 0 and 0 < strict["fnmr"] < 1  # too strict: some genuine pairs fail
    assert by_label["given #1"]["threshold"] == pytest.approx(0.3)
    assert len(report["roc"]) == 201 and report["eer"] == 0
    assert report["impostor_max"] < 0.45 < report["genuine_min"]
