"""Decoding a camera stream with PyAV (FFmpeg) on a thread: reconnect, sample, keyframe mode.

A thread per camera because PyAV's demux/decode calls block and release the GIL inside
FFmpeg. The thread samples at the analytic rate *before* converting to a numpy array (the
conversion costs as much as decoding), and in keyframe mode it does not even hand non-key
packets to the decoder. Sampled frames go to a bounded queue that drops its oldest frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import av
import numpy as np

from kuzet.ingest.cameras import redacted_url
from kuzet.ingest.motion import thumbnail

log = logging.getLogger(__name__)

SUPPORTED_CODECS = frozenset({"h264", "hevc", "mjpeg"})


class Frame:
    """A sampled frame. The BGR array is made on first use: frames the motion gate keeps out of
    inference never pay the colour conversion (the largest per-frame cost after decoding)."""

    __slots__ = ("_av", "_image", "_lock", "camera_id", "height", "keyframe", "seq", "thumb", "time", "width")

    def __init__(
        self,
        camera_id: str,
        image: np.ndarray | av.VideoFrame,
        time: float,
        keyframe: bool,
        seq: int,
        thumb: np.ndarray | None = None,
    ) -> None:
        self.camera_id, self.time, self.keyframe, self.seq = camera_id, time, keyframe, seq
        # Grey ~160 px thumbnail for the motion gate and fault checks (from the luma plane).
        self.thumb = thumb
        self._lock = threading.Lock()
        if isinstance(image, np.ndarray):
            self._image: np.ndarray | None = image
            self._av: av.VideoFrame | None = None
            self.height, self.width = image.shape[:2]
        else:
            self._image, self._av = None, image
            self.width, self.height = image.width, image.height

    @property
    def image(self) -> np.ndarray:
        """BGR, height x width x 3 (converted once, thread-safe)."""
        with self._lock:
            if self._image is None:
                assert self._av is not None
                self._image = self._av.to_ndarray(format="bgr24")
                self._av = None  # the decoder's buffer goes back to its pool
            return self._image


@dataclass
class SourceStats:
    connected: bool = False
    frames_decoded: int = 0
    frames_sampled: int = 0
    frames_dropped: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    last_frame_time: float = 0.0
    last_error: str = ""
    width: int = 0
    height: int = 0
    codec: str = ""
    # moving rates (frames/s), updated once a second
    fps_in: float = 0.0
    fps_out: float = 0.0
    _window_start: float = field(default_factory=time.monotonic)
    _window_in: int = 0
    _window_out: int = 0

    def tick(self, sampled: bool) -> None:
        self.frames_decoded += 1
        self._window_in += 1
        if sampled:
            self.frames_sampled += 1
            self._window_out += 1
        now = time.monotonic()
        span = now - self._window_start
        if span >= 1.0:
            self.fps_in, self.fps_out = self._window_in / span, self._window_out / span
            self._window_start, self._window_in, self._window_out = now, 0, 0


class UnsupportedStream(Exception):
    """The stream opened but cannot be analysed (no video, unsupported codec): do not retry fast."""


class FrameQueue:
    """Bounded, thread-safe; when full the oldest frame is dropped and counted."""

    def __init__(self, capacity: int, stats: SourceStats, notify: Callable[[], None]) -> None:
        self._items: deque[Frame] = deque()
        self._lock = threading.Lock()
        self.capacity = capacity
        self._stats = stats
        self._notify = notify

    def put(self, frame: Frame) -> None:
        with self._lock:
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self._stats.frames_dropped += 1
            self._items.append(frame)
        self._notify()

    def get(self) -> Frame | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        return len(self._items)


class Sampler:
    """Keeps frames at most every 1/fps seconds of stream time (robust to jitter and gaps)."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    def take(self, t: float) -> bool:
        if self._next is None or not self._next - 10 * self.period <= t < self._next + 10 * self.period:
            # first frame, or a jump in stream time (new connection, stream reset): restart
            self._next = t + self.period
            return True
        if t >= self._next - 1e-6:
            self._next = max(self._next + self.period, t)
            return True
        return False


def with_credentials(url: str, username: str, password: str) -> str:
    if not username:
        return url
    parts = urlsplit(url)
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def open_options(url: str, timeout_s: float) -> dict[str, str]:
    scheme = urlsplit(url).scheme
    us = str(int(timeout_s * 1_000_000))
    if scheme in ("rtsp", "rtsps"):
        # TCP interleaving: no UDP port ranges to open through firewalls, no loss-induced smearing.
        return {"rtsp_transport": "tcp", "timeout": us, "stimeout": us}
    if scheme in ("http", "https"):
        return {"timeout": us, "reconnect": "0"}
    return {}


@dataclass
class SourceConfig:
    camera_id: str
    url: str
    username: str = ""
    password: str = ""
    analytic_fps: float = 2.0
    keyframe_only: bool = False
    threads: int = 1
    timeout_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    # Replay files at their own frame rate (like a camera); False decodes as fast as possible.
    realtime_files: bool = True
    # Loop file replay (long-running demos); tests play once.
    loop_files: bool = False


class FrameSource:
    """Runs the decode loop on a daemon thread until stop()."""

    def __init__(
        self,
        cfg: SourceConfig,
        queue_capacity: int,
        notify: Callable[[], None],
        on_status: Callable[[str, str], None],
    ) -> None:
        self.cfg = cfg
        self.stats = SourceStats()
        self.queue = FrameQueue(queue_capacity, self.stats, notify)
        self._on_status = on_status  # ("online"|"offline"|"unsupported", detail)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{cfg.camera_id}", daemon=True)
        self._container: av.container.InputContainer | None = None
        self._seq = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, join_s: float = 8.0) -> None:
        # Never close the container from here: FFmpeg objects are not thread-safe and closing
        # one under a blocked read crashes the process. The read timeout bounds the wait.
        self._stop.set()
        self._thread.join(join_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        backoff = self.cfg.backoff_initial_s
        first = True
        safe = redacted_url(self.cfg.url)
        while not self._stop.is_set():
            try:
                self._session()
                if urlsplit(self.cfg.url).scheme == "file":
                    if self.cfg.loop_files and self.stats.frames_decoded:
                        continue  # replay from the start: the end of a looped file is no outage
                    self.stats.connected = False
                    self._on_status("ended", "end of file")
                    return
                raise ConnectionError("stream ended")
            except UnsupportedStream as exc:
                self.stats.connected = False
                self.stats.last_error = str(exc)
                self._on_status("unsupported", str(exc))
                backoff = self.cfg.backoff_max_s
            except Exception as exc:
                if self._stop.is_set():
                    return
                # FFmpeg messages may echo the URL: never let the password through.
                detail = _describe(exc)
                if self.cfg.password:
                    detail = detail.replace(self.cfg.password, "***")
                self.stats.last_error = detail
                if self.stats.connected or first:
                    log.warning("camera %s: %s (%s)", self.cfg.camera_id, detail, safe)
                    self._on_status("offline", detail)
                if self.stats.connected:
                    backoff = self.cfg.backoff_initial_s  # it worked until now: retry soon
                self.stats.connected = False
            first = False
            self.stats.reconnects += 1
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, self.cfg.backoff_max_s)

    def _session(self) -> None:
        cfg = self.cfg
        url = with_credentials(cfg.url, cfg.username, cfg.password)
        scheme = urlsplit(url).scheme
        target = urlsplit(url).path if scheme == "file" else url
        container = av.open(target, options=open_options(url, cfg.timeout_s), timeout=cfg.timeout_s)
        self._container = container
        try:
            if not container.streams.video:
                raise UnsupportedStream("no video stream")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in SUPPORTED_CODECS:
                raise UnsupportedStream(
                    f"codec {codec!r} not supported (supported: {', '.join(sorted(SUPPORTED_CODECS))})"
                )
            stream.codec_context.thread_count = cfg.threads
            stream.codec_context.thread_type = "AUTO" if cfg.threads > 1 else "SLICE"
            if cfg.keyframe_only:
                stream.codec_context.skip_frame = "NONKEY"
            self.stats.codec = codec
            sampler = Sampler(cfg.analytic_fps)
            tb = float(stream.time_base) if stream.time_base else 1 / 25
            start_wall = time.time()
            first_pts: float | None = None
            paced = scheme == "file" and cfg.realtime_files
            # MJPEG over HTTP carries no timestamps (FFmpeg numbers frames at a guessed 25 fps):
            # the time a frame arrives is the best capture time there is.
            arrival_clock = scheme in ("http", "https")
            online = False
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return
                if packet.size == 0:
                    continue
                if cfg.keyframe_only and not packet.is_keyframe:
                    continue
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    self.stats.decode_errors += 1
                    continue
                for frame in frames:
                    if arrival_clock:
                        rel = time.time() - start_wall
                    else:
                        pts = frame.pts if frame.pts is not None else packet.pts
                        rel = 0.0 if pts is None else pts * tb
                        if first_pts is None:
                            first_pts = rel
                        rel -= first_pts
                    if paced and (ahead := start_wall + rel - time.time()) > 0 and self._stop.wait(ahead):
                        return
                    if not online:
                        online = True
                        self.stats.connected = True
                        self.stats.width, self.stats.height = frame.width, frame.height
                        self._on_status("online", f"{codec} {frame.width}x{frame.height}")
                    take = sampler.take(rel)
                    self.stats.tick(take)
                    if not take:
                        continue
                    t = start_wall + rel
                    self.stats.last_frame_time = t
                    self._seq += 1
                    thumb = luma_thumbnail(frame)
                    # Without a luma plane the thumbnail needs the BGR image anyway: convert now.
                    image: np.ndarray | av.VideoFrame = (
                        frame if thumb is not None else frame.to_ndarray(format="bgr24")
                    )
                    self.queue.put(Frame(cfg.camera_id, image, t, bool(frame.key_frame), self._seq, thumb))
        finally:
            self._container = None
            container.close()


_PLANAR_LUMA = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"})


def luma_thumbnail(frame: av.VideoFrame) -> np.ndarray | None:
    """The grey thumbnail straight from the decoder's Y plane (no colour conversion, no copy)."""
    if frame.format.name not in _PLANAR_LUMA:
        return None
    plane = frame.planes[0]
    y = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
    return thumbnail(y)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"
