"""Decoding, sampling, keyframe mode, motion gate and fault detectors on generated video."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from kuzet.ingest.cameras import ZoneCfg
from kuzet.ingest.faults import FaultDetector
from kuzet.ingest.motion import MotionGate, thumbnail
from kuzet.ingest.source import FrameSource, Sampler, SourceConfig
from kuzet.ingest.testing import videotest as vt


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = vt.mostly_still_scenario(320, 180, duration=8.0, moving_fraction=0.25)
    return vt.write_h264(spec, tmp_path_factory.mktemp("v") / "still.mp4", gop=25)


def decode(path: Path, fps: float, keyframe: bool, capacity: int = 1000) -> FrameSource:
    done = threading.Event()
    src = FrameSource(
        SourceConfig(
            camera_id="t",
            url=f"file://{path}",
            analytic_fps=fps,
            keyframe_only=keyframe,
            realtime_files=False,
        ),
        capacity,
        notify=lambda: None,
        on_status=lambda kind, _d: done.set() if kind == "ended" else None,
    )
    src.start()
    assert done.wait(30)
    src.stop()
    return src


def test_sampling_and_keyframe_mode(still_clip: Path) -> None:
    full = decode(still_clip, 2.0, False)
    assert full.stats.frames_decoded == 200 and full.stats.frames_sampled == 16
    key = decode(still_clip, 1.0, True)
    assert key.stats.frames_decoded == 8 and key.stats.frames_sampled == 8  # one per 1 s GOP
    frame = key.queue.get()
    assert frame is not None and frame.keyframe and frame.image.shape == (180, 320, 3)
    assert frame.thumb is not None and frame.thumb.shape == (90, 160)


def test_bounded_queue_drops_oldest(still_clip: Path) -> None:
    src = decode(still_clip, 25.0, False, capacity=5)
    assert len(src.queue) == 5 and src.stats.frames_dropped == 195
    assert [src.queue.get().seq for _ in range(5)] == [196, 197, 198, 199, 200]  # type: ignore[union-attr]


def test_sampler_restarts_after_a_jump() -> None:
    s = Sampler(2.0)
    taken = [t for t in (i / 25 for i in range(50)) if s.take(t)]
    assert taken == pytest.approx([0.0, 0.52, 1.0, 1.52])  # on the 2 fps grid, no drift
    assert s.take(100.0)  # a new connection's clock


def test_motion_gate_passes_only_moving_frames(still_clip: Path) -> None:
    src = decode(still_clip, 5.0, False)
    zone = ZoneCfg("floor", ((0.0, 81.0), (319.0, 81.0), (319.0, 179.0), (0.0, 179.0)), True)
    gate = MotionGate([zone], (320, 180))
    passed = []
    while (frame := src.queue.get()) is not None:
        passed.append(gate.check(frame.thumb if frame.thumb is not None else thumbnail(frame.image)))
    # The walk takes 2 s of 8 (frames 15-25 at 5 fps); the first frame always passes.
    assert passed[0] and sum(passed) <= 12 and not any(passed[28:])
    assert any(passed[14:26])


def test_faults_black_covered_frozen_moved() -> None:
    rng = np.random.default_rng(0)
    scene = (rng.integers(0, 255, (90, 160))).astype(np.uint8)
    scene = np.asarray(np.clip(scene.astype(np.int16) // 4 * 4, 0, 255), np.uint8)
    det = FaultDetector(hold_s=1.0, frozen_after_s=3.0)
    events = []
    t = 0.0

    def feed(img: np.ndarray, seconds: float) -> None:
        nonlocal t
        for _ in range(int(seconds * 2)):
            noisy = np.clip(img.astype(np.int16) + rng.integers(-2, 3, img.shape), 0, 255).astype(np.uint8)
            started, cleared = det.update(noisy, t)
            events.extend([f"+{f}" for f in started] + [f"-{f}" for f in cleared])
            t += 0.5

    feed(scene, 3)
    assert events == []
    feed(np.full_like(scene, 5), 2)  # lights out / lens capped
    feed(scene, 2)
    feed(np.full_like(scene, 128), 2)  # covered with something uniform
    feed(scene, 2)
    feed(np.roll(scene, 40, axis=1), 2)  # camera turned
    assert events[:4] == ["+black", "-black", "+covered", "-covered"] and "+moved" in events
    det2 = FaultDetector(hold_s=0.0, frozen_after_s=2.0)
    assert any("frozen" in det2.update(scene, i * 0.5)[0] for i in range(8))


def test_http_mjpeg_camera_is_sampled_by_arrival_time() -> None:
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import cv2

    class Mjpeg(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for i in range(40):  # 4 s at 10 fps
                    _ok, buf = cv2.imencode(".jpg", np.full((240, 320, 3), (i * 5) % 255, np.uint8))
                    head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(buf)
                    self.wfile.write(head + buf.tobytes() + b"\r\n")
                    time.sleep(0.1)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Mjpeg)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    statuses: list[str] = []
    src = FrameSource(
        SourceConfig(
            camera_id="m", url=f"http://127.0.0.1:{server.server_address[1]}/video", analytic_fps=2.0
        ),
        100,
        notify=lambda: None,
        on_status=lambda kind, _d: statuses.append(kind),
    )
    src.start()
    time.sleep(3.0)
    src.stop()
    server.shutdown()
    assert statuses[0] == "online" and src.stats.codec == "mjpeg"
    assert 20 <= src.stats.frames_decoded <= 40 and 5 <= src.stats.frames_sampled <= 8  # 2 fps of wall time
    frame = src.queue.get()
    assert frame is not None and frame.thumb is not None and frame.image.shape == (240, 320, 3)


def test_looped_file_replays_without_going_offline(still_clip: Path) -> None:
    statuses: list[str] = []
    src = FrameSource(
        SourceConfig(
            camera_id="l", url=f"file://{still_clip}", analytic_fps=1.0, realtime_files=False, loop_files=True
        ),
        10_000,
        notify=lambda: None,
        on_status=lambda kind, _d: statuses.append(kind),
    )
    src.start()
    for _ in range(200):
        if src.stats.frames_decoded >= 500:
            break
        threading.Event().wait(0.05)
    src.stop()
    assert src.stats.frames_decoded >= 500 and "offline" not in statuses and "ended" not in statuses
