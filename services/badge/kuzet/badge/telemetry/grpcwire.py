"""The gRPC side of the device port, shared by its two HTTP/2 implementations.

``KUZET_BADGE_DEVICE_HTTP2`` picks how frames are read and written: ``builtin`` (h2grpc.py, the
project's own framing, the default) or ``h2`` (h2lib.py, framing and HPACK by the ``h2``
package). Everything else is here, once: what a call is (length-prefixed messages, the status in
trailers, grpc-timeout, a refused call), and what a peer may cost the port outside its frames
(h2limits.Limits: the connection cap, the preface and idle timeouts, reading paused while the peer
leaves our replies unread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

import grpc

from kuzet.badge.telemetry.h2limits import Limits, PeerBudget
from kuzet.common.waiting import wait_set, within

log = logging.getLogger(__name__)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# What this side lets a peer send before it must wait for a WINDOW_UPDATE.
RECEIVE_WINDOW = 1 << 20
CONNECTION_RECEIVE_WINDOW = 1 << 24
# A connection being closed whose peer leaves the last bytes unread is cut off after this long.
CLOSE_GRACE_S = 5.0
REFUSAL_LOG_INTERVAL_S = 10.0
# A refused call whose client sends nothing gets its status after this long (see _Refusal).
REFUSAL_DELAY_S = 1.0

Fields = list[tuple[str, str]]


class StreamHandler(Protocol):
    """What a method does with one call; every callback runs on the event loop."""

    def on_message(self, data: bytes) -> None: ...

    def on_half_close(self) -> None: ...

    def on_closed(self) -> None: ...


# A method's handler factory; it may raise StreamRefused to end the call with a status at once.
HandlerFactory = Callable[["WireStream"], StreamHandler]


class StreamRefused(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def grpc_message(data: bytes) -> bytes:
    """A gRPC length-prefixed message (uncompressed)."""
    return b"\x00" + len(data).to_bytes(4, "big") + data


def _percent_encode(message: str) -> str:
    # grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2, "Responses").
    return "".join(
        chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}" for b in message.encode("utf-8")
    )


def status_fields(code: grpc.StatusCode, message: str) -> Fields:
    fields = [("grpc-status", str(code.value[0]))]
    if message:
        fields.append(("grpc-message", _percent_encode(message)))
    return fields


RESPONSE_FIELDS: Fields = [(":status", "200"), ("content-type", "application/grpc")]


def parse_timeout(value: str) -> float:
    units = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
    if len(value) < 2 or len(value) > 9 or value[-1] not in units or not value[:-1].isdigit():
        raise ValueError(f"malformed grpc-timeout {value!r}")
    return int(value[:-1]) * units[value[-1]]


class WireStream:
    """One call: its metadata, what arrives for it, and sending messages and the final status.

    A framing subclass says how messages, the status and the response headers go out.
    """

    __slots__ = (
        "_buffer",
        "_deadline",
        "connection",
        "handler",
        "local_closed",
        "metadata",
        "method",
        "remote_closed",
        "stream_id",
    )

    def __init__(self, connection: WireConnection, stream_id: int, method: str, metadata: Fields) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.method = method
        self.metadata = metadata
        self.handler: StreamHandler | None = None
        self.local_closed = False
        self.remote_closed = False
        self._buffer = bytearray()
        self._deadline: asyncio.TimerHandle | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.metadata:
            if key == name:
                return value
        return None

    # -- sending (the framing's) ---------------------------------------------------------------

    def send_message(self, message: bytes) -> None:
        raise NotImplementedError

    def flush_pending(self) -> bool:
        """Send what flow control now allows; True when nothing is left waiting."""
        raise NotImplementedError

    def _send_status(self, fields: Fields) -> None:
        """The trailers (after any message still waiting for flow-control credit)."""
        raise NotImplementedError

    def _status_unsent(self) -> bool:
        raise NotImplementedError

    def finish(self, code: grpc.StatusCode, message: str = "") -> None:
        """End the call with a status."""
        if self.local_closed:
            return
        self.local_closed = True
        self._send_status(status_fields(code, message))

    # -- receiving ---------------------------------------------------------------------------

    def receive(self, data: bytes | memoryview) -> None:
        """DATA payload: whole gRPC messages go to the handler, a partial one waits."""
        buffer = self._buffer
        if buffer:
            buffer += data
            data = bytes(buffer)
            buffer.clear()
        view = memoryview(data)
        offset, end = 0, len(view)
        limit = self.connection.max_message
        while end - offset >= 5:
            length = int.from_bytes(view[offset + 1 : offset + 5], "big")
            if length > limit:
                self.finish(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"message of {length} bytes exceeds the limit of {limit}",
                )
                return
            if offset + 5 + length > end:
                break
            if view[offset]:
                self.finish(grpc.StatusCode.UNIMPLEMENTED, "message compression is not supported")
                return
            start = offset + 5
            offset = start + length
            if self.handler is not None:
                self.handler.on_message(bytes(view[start:offset]))
            if self.local_closed:
                return
        if offset < end:
            buffer += view[offset:]

    def half_close(self) -> None:
        self.remote_closed = True
        if self._buffer:
            self.finish(grpc.StatusCode.INTERNAL, "the stream ended inside a message")
        elif self.handler is not None and not self.local_closed:
            self.handler.on_half_close()
        if self.local_closed and not self._status_unsent():
            self.connection.forget(self)

    def closed(self) -> None:
        """Called once when the stream is gone from the connection, whatever the reason."""
        if self._deadline is not None:
            self._deadline.cancel()
        self.local_closed = True
        handler, self.handler = self.handler, None
        if handler is not None:
            handler.on_closed()


class WireConnection(asyncio.Protocol):
    """One client connection: its calls by stream id, its timers and what its peer may cost.

    A framing subclass reads frames in data_received and writes them (``write``-like batching is
    its own); this class opens and ends calls and owns the connection's life.
    """

    # Error codes of RFC 9113, 7 that this layer sends.
    NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, ENHANCE_YOUR_CALM = 0x0, 0x1, 0x7, 0xB

    def __init__(self, endpoint: WireEndpoint) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, WireStream] = {}
        self.blocked: dict[int, WireStream] = {}
        self.limits = limits = endpoint.limits
        self.max_message = limits.max_message
        self._going_away = False
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self.budget = PeerBudget(limits, self._clock)
        self._idle_since: float | None = self._clock()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._preface_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None

    # -- the framing's -------------------------------------------------------------------------

    def _greet(self) -> None:
        """This side's SETTINGS and connection window, first thing on an admitted connection."""
        raise NotImplementedError

    def _refusal(self) -> bytes:
        """What a connection over the cap gets before it is closed: SETTINGS, GOAWAY."""
        raise NotImplementedError

    def _new_stream(self, stream_id: int, method: str, metadata: Fields) -> WireStream:
        raise NotImplementedError

    def _reset(self, stream_id: int, code: int) -> None:
        raise NotImplementedError

    def _reply_unsupported(self, stream: WireStream) -> None:
        """HTTP 415 for a request that is no gRPC call, then the stream is over."""
        raise NotImplementedError

    def _send_goaway(self) -> None:
        """GOAWAY NO_ERROR: no new calls."""
        raise NotImplementedError

    def _flush(self) -> None:
        raise NotImplementedError

    def _discard_input(self) -> None:
        """Drop whatever is buffered of a frame or header block not yet complete."""
        raise NotImplementedError

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        limits = self.limits
        if not self.endpoint.admit(self):
            transport.write(self._refusal())
            transport.close()
            return
        transport.set_write_buffer_limits(high=limits.write_high_water)
        loop = asyncio.get_running_loop()
        self._preface_timer = loop.call_later(limits.preface_timeout_s, self._preface_missing)
        self._idle_timer = loop.call_later(limits.idle_timeout_s, self._idle_check)
        self._greet()

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint.lost(self)
        for stream in list(self.streams.values()):
            self.forget(stream)
        for timer in (self._preface_timer, self._idle_timer, self._stall_timer):
            if timer is not None:
                timer.cancel()
        self._discard_input()
        self.transport = None

    def pause_writing(self) -> None:
        # The peer is not reading: stop reading what would make more replies for it.
        if self.transport is not None:
            self.transport.pause_reading()
            self._stall_timer = asyncio.get_running_loop().call_later(
                self.limits.idle_timeout_s, self._abort, "the peer read nothing"
            )

    def resume_writing(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # -- what a peer may cost ----------------------------------------------------------------

    def _preface_seen(self) -> None:
        if self._preface_timer is not None:
            self._preface_timer.cancel()
            self._preface_timer = None

    def _preface_missing(self) -> None:
        self._preface_timer = None
        self._abort(f"no HTTP/2 preface within {self.limits.preface_timeout_s:g} s")

    def _idle_check(self) -> None:
        """Armed once and re-armed lazily, so that opening and ending calls costs no timer."""
        self._idle_timer = None
        if self.transport is None or self._idle_since is None:
            return
        timeout = self.limits.idle_timeout_s
        left = self._idle_since + timeout - self._clock()
        if left > 0:
            self._idle_timer = asyncio.get_running_loop().call_later(left, self._idle_check)
            return
        log.info("HTTP/2 connection from %s closed: no call for %g s", self._peer(), timeout)
        self.go_away()

    def _abort(self, reason: str) -> None:
        if self.transport is not None:
            log.warning("HTTP/2 connection from %s dropped: %s", self._peer(), reason)
            self.transport.abort()

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport is not None else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"

    # -- calls -------------------------------------------------------------------------------

    def _open(self, stream_id: int, end_stream: bool, fields: Fields) -> None:
        """A request's header block, decoded: start the call, or refuse it at once."""
        pseudo = {name: value for name, value in fields if name.startswith(":")}
        metadata = [(name, value) for name, value in fields if not name.startswith(":")]
        if self._going_away or len(self.streams) >= self.limits.max_streams:
            self.budget.control_frame()
            self._reset(stream_id, self.REFUSED_STREAM)
            return
        stream = self._new_stream(stream_id, pseudo.get(":path", ""), metadata)
        self.streams[stream_id] = stream
        self._idle_since = None
        if end_stream:
            stream.remote_closed = True
        content_type = stream.header("content-type") or ""
        if pseudo.get(":method") != "POST" or not content_type.startswith("application/grpc"):
            self.budget.control_frame()  # a call that never runs is churn (so are the two below)
            stream.local_closed = True
            self._reply_unsupported(stream)
            self.forget(stream)
            return
        factory = self.endpoint.methods.get(stream.method)
        if factory is None:
            self.budget.control_frame()
            stream.finish(grpc.StatusCode.UNIMPLEMENTED, f"method {stream.method} is not served here")
            return
        timeout = stream.header("grpc-timeout")
        try:
            if timeout is not None:
                stream._deadline = asyncio.get_running_loop().call_later(
                    parse_timeout(timeout), _deadline_passed, stream
                )
            stream.handler = factory(stream)
        except StreamRefused as exc:
            self.budget.control_frame()
            if stream.remote_closed:
                stream.finish(exc.code, exc.message)
            else:
                stream.handler = _Refusal(stream, exc)
            return
        except ValueError as exc:
            stream.finish(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            return
        if stream.remote_closed and not stream.local_closed:
            stream.half_close()

    def drain(self) -> None:
        """More send credit: the streams waiting for it send what they can."""
        for stream_id, stream in list(self.blocked.items()):
            if stream.flush_pending():
                self.blocked.pop(stream_id, None)

    def forget(self, stream: WireStream) -> None:
        if self.streams.pop(stream.stream_id, None) is None:
            return
        self.blocked.pop(stream.stream_id, None)
        stream.closed()
        if not self.streams:
            self._idle_since = self._clock()
            if self._idle_timer is None and self.transport is not None:
                self._idle_timer = asyncio.get_running_loop().call_later(
                    self.limits.idle_timeout_s, self._idle_check
                )
            if self._going_away:
                self.close()

    def _end_calls(self) -> None:
        for stream in list(self.streams.values()):
            stream.local_closed = True
            self.forget(stream)

    def go_away(self) -> None:
        """Accept no new calls; the connection closes once its calls have ended."""
        if not self._going_away:
            self._going_away = True
            self._send_goaway()
        if not self.streams:
            self.close()

    def close(self) -> None:
        self._flush()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()
            if transport.get_write_buffer_size():
                # close() waits for the peer to read what is left; a peer that never does would
                # keep the connection forever.
                asyncio.get_running_loop().call_later(CLOSE_GRACE_S, transport.abort)


class _Refusal:
    """A refused call's status, sent once the client's first message is in (or soon anyway).

    A grpcio client writes its first message right after opening the call; had the status come
    first, that write would fail and grpcio would report INTERNAL instead of the status.
    """

    __slots__ = ("_code", "_message", "_stream", "_timer")

    def __init__(self, stream: WireStream, refused: StreamRefused) -> None:
        self._stream = stream
        self._code, self._message = refused.code, refused.message
        self._timer = asyncio.get_running_loop().call_later(REFUSAL_DELAY_S, self._send)

    def _send(self) -> None:
        self._stream.finish(self._code, self._message)

    def on_message(self, data: bytes) -> None:
        self._send()

    def on_half_close(self) -> None:
        self._send()

    def on_closed(self) -> None:
        self._timer.cancel()


def _deadline_passed(stream: WireStream) -> None:
    stream.finish(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
    stream.connection.forget(stream)


class WireEndpoint:
    """Listens on a port and serves the registered streaming methods over ``connection``."""

    def __init__(
        self,
        methods: dict[str, HandlerFactory],
        connection: Callable[[WireEndpoint], WireConnection],
        limits: Limits | None = None,
    ) -> None:
        self.methods = methods
        self.limits = limits or Limits()
        self.connections: set[WireConnection] = set()
        self.framing = connection
        self._server: asyncio.Server | None = None
        self._drained: asyncio.Event | None = None
        self._refused = 0
        self._refused_logged_at = -REFUSAL_LOG_INTERVAL_S

    def admit(self, connection: WireConnection) -> bool:
        if len(self.connections) < self.limits.max_connections:
            self.connections.add(connection)
            return True
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSAL_LOG_INTERVAL_S:
            # Once per interval: a connection flood must not become a log flood.
            log.warning(
                "device port at its cap of %d connections: %d refused since the last report",
                self.limits.max_connections,
                self._refused,
            )
            self._refused, self._refused_logged_at = 0, now
        return False

    def lost(self, connection: WireConnection) -> None:
        self.connections.discard(connection)
        if not self.connections and self._drained is not None:
            self._drained.set()

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self.framing(self), host, port, backlog=4096, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self, grace: float = 5.0) -> None:
        """GOAWAY to every client, end the calls still open as UNAVAILABLE, then close."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self.connections):
            connection.go_away()
            for stream in list(connection.streams.values()):
                stream.finish(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
        if self.connections:
            self._drained = asyncio.Event()
            await wait_set(self._drained, grace)
        for connection in list(self.connections):
            connection.close()
        with contextlib.suppress(Exception):
            await within(1.0, self._server.wait_closed())
        self._server = None
