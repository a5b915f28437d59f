"""Match quality from evidence: false match and false non-match rates at each threshold.

    python -m kuzet.identity.quality FOLDER [--thresholds 0.4,0.5] [--database-url URL]
                                            [--inference HOST:PORT] [--json report.json]

FOLDER holds one sub-folder per person with that person's face images. Every image is embedded
through a running inference service (--inference, default KUZET_ENDPOINT_INFERENCE as for the
services) and held to the same quality bar as enrolment; refused images are counted as failures
to enrol. Every pair of images of the same person is a genuine comparison, every pair of
different people an impostor one. The report gives FMR and FNMR at the default threshold, at the thresholds given and at
every gallery's threshold (read from the identity database with --database-url), plus the ROC
and the equal error rate, so an operator can set thresholds from evidence.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    fmr: float
    fnmr: float
    label: str = ""


@dataclass
class Report:
    model: str
    people: int
    images: int
    refused: list[dict[str, str]]
    genuine_pairs: int
    impostor_pairs: int
    points: list[OperatingPoint]
    roc: list[OperatingPoint]
    eer: float
    eer_threshold: float
    genuine_min: float = 0.0
    impostor_max: float = 0.0
    notes: list[str] = field(default_factory=list)


def pair_scores(
    vectors: npt.NDArray[np.float32], labels: list[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Cosine scores of every unordered pair, split into genuine and impostor."""
    sims = vectors @ vectors.T
    lab = np.asarray(labels)
    upper = np.triu_indices(len(labels), k=1)
    same = lab[upper[0]] == lab[upper[1]]
    scores = sims[upper].astype(np.float64)
    return scores[same], scores[~same]


def rates(
    genuine: npt.NDArray[np.float64], impostor: npt.NDArray[np.float64], t: float
) -> tuple[float, float]:
    """(FMR, FNMR) at threshold t: a comparison matches when its score is >= t."""
    fmr = float(np.mean(impostor >= t)) if impostor.size else float("nan")
    fnmr = float(np.mean(genuine < t)) if genuine.size else float("nan")
    return fmr, fnmr


def evaluate(
    genuine: npt.NDArray[np.float64],
    impostor: npt.NDArray[np.float64],
    thresholds: dict[str, float],
    *,
    step: float = 0.01,
) -> tuple[list[OperatingPoint], list[OperatingPoint], float, float]:
    """Operating points at the named thresholds, the ROC on a grid, and the equal error rate."""
    points = [
        OperatingPoint(t, *rates(genuine, impostor, t), label=name)
        for name, t in sorted(thresholds.items(), key=lambda kv: kv[1])
    ]
    grid = np.round(np.arange(-1.0, 1.0 + step / 2, step), 6)
    roc = [OperatingPoint(float(t), *rates(genuine, impostor, float(t))) for t in grid]
    gaps = np.asarray([abs(p.fmr - p.fnmr) for p in roc])
    # Where several thresholds tie (perfectly separated scores), report the middle one.
    ties = np.flatnonzero(gaps == gaps.min())
    best = int(ties[len(ties) // 2])
    eer = (roc[best].fmr + roc[best].fnmr) / 2
    return points, roc, eer, roc[best].threshold


def labelled_images(folder: Path) -> list[tuple[str, Path]]:
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder (expected one sub-folder per person)")
    out = []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        for image in sorted(person.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                out.append((person.name, image))
    if not out:
        raise SystemExit(f"no images under {folder}/<person>/")
    return out


async def embed_all(
    images: list[tuple[str, Path]], inference: str
) -> tuple[str, list[str], npt.NDArray[np.float32], list[dict[str, str]]]:
    """Embed every image through the inference service, with enrolment's quality bar."""
    from kuzet.common.caller import service_caller
    from kuzet.common.grpcclient import open_channel
    from kuzet.common.inference.client import InferenceClient
    from kuzet.identity.config import IdentitySettings
    from kuzet.identity.faces import InferenceFaces, QualityBar, Refusal
    from kuzet.identity.v1 import identity_pb2 as pb

    settings = IdentitySettings()
    bar = QualityBar.of(settings)
    channel = open_channel(inference, audience="inference", caller=service_caller("identity-quality"))
    try:
        faces = InferenceFaces(InferenceClient(channel), bar)
        labels, vectors, refused, model = [], [], [], ""
        for person, path in images:
            result = await faces.face(path.read_bytes(), crop=False, strict=False)
            if isinstance(result, Refusal):
                refused.append(
                    {
                        "image": str(path),
                        "reason": pb.RefusalReason.Name(result.reason),
                        "detail": result.detail,
                    }
                )
                continue
            labels.append(person)
            vectors.append(result.vector)
            model = result.model
    finally:
        await channel.close()
    matrix = np.stack(vectors).astype(np.float32) if vectors else np.empty((0, 0), np.float32)
    return model, labels, matrix, refused


def gallery_thresholds(database_url: str) -> dict[str, float]:
    from sqlalchemy import select

    from kuzet.common.db import Database
    from kuzet.identity.models import GalleryRow

    db = Database(database_url)
    try:
        with db.session() as s:
            return {f"gallery {g.name} ({g.agency_id})": g.threshold for g in s.scalars(select(GalleryRow))}
    finally:
        db.dispose()


def build_report(
    model: str,
    labels: list[str],
    vectors: npt.NDArray[np.float32],
    refused: list[dict[str, str]],
    thresholds: dict[str, float],
) -> Report:
    genuine, impostor = pair_scores(vectors, labels) if len(labels) > 1 else (np.empty(0), np.empty(0))
    points, roc, eer, eer_t = evaluate(genuine, impostor, thresholds)
    notes = []
    if genuine.size == 0:
        notes.append("no genuine pairs: give at least one person two usable images")
    if impostor.size == 0:
        notes.append("no impostor pairs: give at least two people")
    if 0 < genuine.size < 100 or 0 < impostor.size < 1000:
        notes.append("few comparisons: rates below 1/(number of pairs) cannot be told from zero")
    return Report(
        model=model,
        people=len(set(labels)),
        images=len(labels),
        refused=refused,
        genuine_pairs=int(genuine.size),
        impostor_pairs=int(impostor.size),
        points=points,
        roc=roc,
        eer=eer,
        eer_threshold=eer_t,
        genuine_min=float(genuine.min()) if genuine.size else float("nan"),
        impostor_max=float(impostor.max()) if impostor.size else float("nan"),
        notes=notes,
    )


def print_report(report: Report, out: Any = sys.stdout) -> None:
    print(
        f"model {report.model}: {report.people} people, {report.images} usable images, "
        f"{len(report.refused)} refused",
        file=out,
    )
    print(
        f"{report.genuine_pairs} genuine pairs (lowest score {report.genuine_min:.3f}), "
        f"{report.impostor_pairs} impostor pairs (highest score {report.impostor_max:.3f})",
        file=out,
    )
    print(f"{'threshold':>9}  {'FMR':>8}  {'FNMR':>8}  where", file=out)
    for p in report.points:
        print(f"{p.threshold:>9.3f}  {p.fmr:>8.4f}  {p.fnmr:>8.4f}  {p.label}", file=out)
    print(f"equal error rate {report.eer:.4f} at threshold {report.eer_threshold:.2f}", file=out)
    for r in report.refused:
        print(f"refused {r['image']}: {r['detail']}", file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="one sub-folder of face images per person")
    parser.add_argument("--thresholds", default="", help="extra thresholds, comma-separated")
    parser.add_argument(
        "--database-url", default="", help="identity database: report at every gallery's threshold"
    )
    parser.add_argument(
        "--inference", default="", help="inference service address; default: KUZET_ENDPOINT_INFERENCE"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the full report (with the ROC) here")
    opts = parser.parse_args(argv)

    from kuzet.common.config import Endpoints
    from kuzet.identity.config import IdentitySettings

    thresholds = {"service default": IdentitySettings().default_threshold}
    for i, value in enumerate(v for v in opts.thresholds.split(",") if v.strip()):
        try:
            thresholds[f"given #{i + 1}"] = float(value)
        except ValueError:
            parser.error(f"--thresholds: {value!r} is not a number")
    if opts.database_url:
        thresholds.update(gallery_thresholds(opts.database_url))
    images = labelled_images(opts.folder)
    model, labels, vectors, refused = asyncio.run(embed_all(images, opts.inference or Endpoints().inference))
    report = build_report(model, labels, vectors, refused, thresholds)
    print_report(report)
    if opts.json:
        opts.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
