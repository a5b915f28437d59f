"""What one peer of the device port may cost it, before and after it is authenticated.

Kept apart from the framing so that the rules are easy to read and to test: which frames are
budgeted, at what rate, and what the budget of WINDOW_UPDATE is tied to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """The badge settings KUZET_BADGE_DEVICE_* set these (BadgeSettings.device_limits)."""

    max_streams: int = 100
    max_message: int = 64 * 1024
    # Advertised as SETTINGS_MAX_HEADER_LIST_SIZE; also caps the encoded HEADERS+CONTINUATION
    # block as it grows, before any HPACK decoding.
    max_header_list: int = 16_384
    # Frames that make the server reply or work but carry no call: PING, SETTINGS, RST_STREAM,
    # PRIORITY, CONTINUATION, DATA that is empty without ending its stream, unknown types, and
    # HEADERS that open no running call (over the stream cap, a bad token, another method or
    # content type). A token bucket; empty -> GOAWAY ENHANCE_YOUR_CALM.
    control_frames_per_s: float = 100.0
    control_frame_burst: int = 1000
    # WINDOW_UPDATE is how a legitimate reader keeps us sending, so grpcio sends many of them with
    # many streams open: it has a budget of its own, refilled by every DATA frame we send (each can
    # earn a stream and a connection update) on top of a time-based rate. It is a sanity cap
    # against a pure flood, not a rate limit on readers.
    window_updates_per_s: float = 1000.0
    window_update_burst: int = 10_000
    # Above this many unsent bytes for the peer, reading pauses until the peer has taken them.
    write_high_water: int = 256 * 1024
    preface_timeout_s: float = 10.0
    # No open call for this long, or no byte taken by the peer for this long while reading is
    # paused: the connection is closed.
    idle_timeout_s: float = 120.0
    max_connections: int = 20_000


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; ``take`` says whether one was left."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def take(self, now: float) -> bool:
        tokens = min(self._tokens + (now - self._at) * self._rate, self._burst) - 1.0
        self._at = now
        if tokens < 0:
            self._tokens = 0.0
            return False
        self._tokens = tokens
        return True

    def earn(self, count: int) -> None:
        """Credit earned by work the peer legitimately answers (our DATA frames for WINDOW_UPDATE)."""
        self._tokens = min(self._tokens + count, self._burst)


class Flood(Exception):
    """A peer spent a budget: its connection ends with GOAWAY ENHANCE_YOUR_CALM and this text."""


class PeerBudget:
    """One connection's budgets, charged by whichever framing reads its frames."""

    __slots__ = ("_clock", "_control", "_max_header_block", "_window_updates")

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        now = clock()
        self._clock = clock
        self._control = TokenBucket(limits.control_frames_per_s, limits.control_frame_burst, now)
        self._window_updates = TokenBucket(limits.window_updates_per_s, limits.window_update_burst, now)
        self._max_header_block = limits.max_header_list

    def control_frame(self) -> None:
        """A frame that carries no call data; none left is a flood."""
        if not self._control.take(self._clock()):
            raise Flood("control frame flood")

    def window_update(self) -> None:
        if not self._window_updates.take(self._clock()):
            raise Flood("WINDOW_UPDATE flood")

    def data_sent(self) -> None:
        # The peer may answer each DATA frame with a stream and a connection WINDOW_UPDATE.
        self._window_updates.earn(2)

    def header_block(self, size: int) -> None:
        """Checked as the block grows: a peer must not make us hold more than it may send."""
        if size > self._max_header_block:
            raise Flood(f"header block over {self._max_header_block} bytes")
