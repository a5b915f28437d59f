"""A gRPC endpoint for long-lived streaming methods, speaking HTTP/2 straight off asyncio.

Why it exists: grpc.aio spends about 190 µs of CPU on every message read plus reply written on a
stream (measured with a bare servicer, see bench/badge.py), so 10,000 badges reporting at 1 Hz
would need two cores for the transport alone. Here a whole socket read is parsed in one pass and
every reply of a loop turn goes out in one write, so the per-message cost is a few frame headers.

It is a real gRPC server for the methods registered with it (any gRPC client can call them):
HTTP/2 framing, SETTINGS, PING, GOAWAY, RST_STREAM, flow control in both directions, HPACK
(decoding through the ``hpack`` package; replies use literal fields only, so no encoder state),
grpc-timeout, and trailers-only responses for errors. Not supported, because badges need none
of it: TLS termination (done by the ingress or a sidecar), message compression, server push and
unary methods.

The port faces the internet before any caller is authenticated, so what one peer may cost is
bounded (Limits): the header block a stream opens with, the control frames it may send (each
costs a reply or a wakeup but carries no call), reading stops while the peer leaves our replies
unread, and a connection without a preface, without a call or that reads nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

import grpc
from hpack import Decoder
from hpack.exceptions import HPACKError

from kuzet.badge.h2limits import Limits, TokenBucket
from kuzet.common.waiting import wait_set, within

log = logging.getLogger(__name__)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    range(10)
)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = 0x5, 0x6, 0x7, 0x8, 0x9
ENHANCE_YOUR_CALM = 0xB

MAX_WINDOW = 2**31 - 1
DEFAULT_WINDOW = 65_535
DEFAULT_MAX_FRAME = 16_384
# What this side lets a peer send before it must wait for a WINDOW_UPDATE.
RECEIVE_WINDOW = 1 << 20
CONNECTION_RECEIVE_WINDOW = 1 << 24
# A connection being closed whose peer leaves the last bytes unread is cut off after this long.
CLOSE_GRACE_S = 5.0
REFUSAL_LOG_INTERVAL_S = 10.0
# A refused call whose client sends nothing gets its status after this long (see _Refusal).
REFUSAL_DELAY_S = 1.0

_frame_header = struct.Struct(">HBBBL")  # 24-bit length as 16 + 8 bits, type, flags, stream id


class ProtocolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


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


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    length = len(payload)
    return _frame_header.pack(length >> 8, length & 0xFF, kind, flags, stream_id) + payload


def grpc_message(data: bytes) -> bytes:
    """A gRPC length-prefixed message (uncompressed)."""
    return b"\x00" + len(data).to_bytes(4, "big") + data


def _hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_headers(headers: Sequence[tuple[str, str]]) -> bytes:
    """HPACK literals without indexing and without Huffman: valid for any decoder state."""
    out = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode("ascii"), value.encode("ascii")
        out += b"\x00" + _hpack_int(len(raw_name), 7) + raw_name + _hpack_int(len(raw_value), 7) + raw_value
    return bytes(out)


def _percent_encode(message: str) -> str:
    # grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2, "Responses").
    return "".join(
        chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}" for b in message.encode("utf-8")
    )


RESPONSE_HEADERS = encode_headers([(":status", "200"), ("content-type", "application/grpc")])


def parse_timeout(value: str) -> float:
    units = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
    if len(value) < 2 or len(value) > 9 or value[-1] not in units or not value[:-1].isdigit():
        raise ValueError(f"malformed grpc-timeout {value!r}")
    return int(value[:-1]) * units[value[-1]]


class WireStream:
    """One call: its metadata, what arrives for it, and sending messages and the final status."""

    __slots__ = (
        "_buffer",
        "_deadline",
        "_pending",
        "_trailers",
        "connection",
        "handler",
        "headers_sent",
        "local_closed",
        "metadata",
        "method",
        "remote_closed",
        "send_window",
        "stream_id",
        "unacked",
    )

    def __init__(
        self, connection: H2GrpcConnection, stream_id: int, method: str, metadata: list[tuple[str, str]]
    ) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.method = method
        self.metadata = metadata
        self.handler: StreamHandler | None = None
        self.send_window = connection.peer_initial_window
        self.unacked = 0
        self.headers_sent = False
        self.local_closed = False
        self.remote_closed = False
        self._buffer = bytearray()
        self._pending: deque[bytes] = deque()
        self._trailers: bytes | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.metadata:
            if key == name:
                return value
        return None

    # -- sending -----------------------------------------------------------------------------

    def send_message(self, message: bytes) -> None:
        if self.local_closed:
            return
        conn = self.connection
        if not self.headers_sent:
            self.headers_sent = True
            conn.write(frame(HEADERS, END_HEADERS, self.stream_id, RESPONSE_HEADERS))
        self._pending.append(grpc_message(message))
        if not self.flush_pending():
            conn.blocked[self.stream_id] = self

    def finish(self, code: grpc.StatusCode, message: str = "") -> None:
        """End the call with a status (after any message still waiting for flow-control credit)."""
        if self.local_closed:
            return
        self.local_closed = True
        fields = [("grpc-status", str(code.value[0]))]
        if message:
            fields.append(("grpc-message", _percent_encode(message)))
        block = encode_headers(fields)
        if not self.headers_sent:
            self.headers_sent = True
            block = RESPONSE_HEADERS + block
        self._trailers = frame(HEADERS, END_HEADERS | END_STREAM, self.stream_id, block)
        if self._pending:
            return  # sent by flush_pending once the messages before it have gone
        self._send_trailers()

    def _send_trailers(self) -> None:
        conn = self.connection
        assert self._trailers is not None
        conn.write(self._trailers)
        self._trailers = None
        if not self.remote_closed:
            # The client may stop sending: the call is over (RFC 9113, 8.1).
            conn.write(frame(RST_STREAM, 0, self.stream_id, NO_ERROR.to_bytes(4, "big")))
        conn.forget(self)

    def flush_pending(self) -> bool:
        """Send what flow control now allows; True when nothing is left waiting."""
        conn = self.connection
        while self._pending:
            payload = self._pending[0]
            allowed = min(self.send_window, conn.send_window, conn.peer_max_frame)
            if allowed <= 0:
                return False
            if len(payload) > allowed:
                conn.write(frame(DATA, 0, self.stream_id, payload[:allowed]))
                self._pending[0] = payload[allowed:]
                size = allowed
            else:
                conn.write(frame(DATA, 0, self.stream_id, payload))
                self._pending.popleft()
                size = len(payload)
            self.send_window -= size
            conn.send_window -= size
            # The peer may answer each DATA frame with a stream and a connection WINDOW_UPDATE.
            conn.window_update_budget.earn(2)
        if self._trailers is not None:
            self._send_trailers()
        return True

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
        if self.local_closed and self._trailers is None:
            self.connection.forget(self)

    def closed(self) -> None:
        """Called once when the stream is gone from the connection, whatever the reason."""
        if self._deadline is not None:
            self._deadline.cancel()
        self.local_closed = True
        handler, self.handler = self.handler, None
        if handler is not None:
            handler.on_closed()


class H2GrpcConnection(asyncio.Protocol):
    """One client connection: frames in, frames out, streams by id."""

    def __init__(self, endpoint: H2GrpcEndpoint) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, WireStream] = {}
        self.blocked: dict[int, WireStream] = {}
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_max_frame = DEFAULT_MAX_FRAME
        self.send_window = DEFAULT_WINDOW
        self.limits = limits = endpoint.limits
        self.max_message = limits.max_message
        self._decoder = Decoder()
        self._decoder.max_header_list_size = limits.max_header_list
        self._buffer = bytearray()
        self._preface_seen = False
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._last_stream = 0
        self._unacked = 0  # received DATA bytes not yet returned to the client's window
        self._headers: tuple[int, int, bytearray] | None = None  # a block awaiting CONTINUATION
        self._going_away = False
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        now = self._clock()
        self._control_budget = TokenBucket(limits.control_frames_per_s, limits.control_frame_burst, now)
        self.window_update_budget = TokenBucket(limits.window_updates_per_s, limits.window_update_burst, now)
        self._idle_since: float | None = now
        self._idle_timer: asyncio.TimerHandle | None = None
        self._preface_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        limits = self.limits
        if not self.endpoint.admit(self):
            goaway = struct.pack(">LL", 0, ENHANCE_YOUR_CALM) + b"too many connections"
            transport.write(frame(SETTINGS, 0, 0) + frame(GOAWAY, 0, 0, goaway))
            transport.close()
            return
        transport.set_write_buffer_limits(high=limits.write_high_water)
        loop = asyncio.get_running_loop()
        self._preface_timer = loop.call_later(limits.preface_timeout_s, self._preface_missing)
        self._idle_timer = loop.call_later(limits.idle_timeout_s, self._idle_check)
        settings = struct.pack(
            ">HLHLHL",
            SETTINGS_MAX_CONCURRENT_STREAMS,
            limits.max_streams,
            SETTINGS_INITIAL_WINDOW_SIZE,
            RECEIVE_WINDOW,
            SETTINGS_MAX_HEADER_LIST_SIZE,
            limits.max_header_list,
        )
        self.write(frame(SETTINGS, 0, 0, settings))
        increment = CONNECTION_RECEIVE_WINDOW - DEFAULT_WINDOW
        self.write(frame(WINDOW_UPDATE, 0, 0, increment.to_bytes(4, "big")))

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            # Frames are parsed from an immutable copy: payload views may outlive this call.
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        try:
            offset = 0
            if not self._preface_seen:
                if len(data) < len(PREFACE):
                    if not PREFACE.startswith(data):
                        raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 client preface")
                    self._buffer += data
                    return
                if not data.startswith(PREFACE):
                    raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 client preface")
                self._preface_seen = True
                if self._preface_timer is not None:
                    self._preface_timer.cancel()
                    self._preface_timer = None
                offset = len(PREFACE)
            view = memoryview(data)
            end = len(data)
            while end - offset >= 9:
                hi, lo, kind, flags, stream_id = _frame_header.unpack_from(view, offset)
                length = (hi << 8) | lo
                if length > DEFAULT_MAX_FRAME:
                    raise ProtocolError(FRAME_SIZE_ERROR, f"frame of {length} bytes")
                if end - offset - 9 < length:
                    break
                start = offset + 9
                offset = start + length
                self._frame(kind, flags, stream_id & MAX_WINDOW, view[start:offset])
            if offset < end:
                self._buffer += view[offset:]
            if self._unacked >= CONNECTION_RECEIVE_WINDOW // 2:
                self.write(frame(WINDOW_UPDATE, 0, 0, self._unacked.to_bytes(4, "big")))
                self._unacked = 0
        except ProtocolError as exc:
            self._fail(exc.code, str(exc))

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint.lost(self)
        for stream in list(self.streams.values()):
            self.forget(stream)
        for timer in (self._preface_timer, self._idle_timer, self._stall_timer):
            if timer is not None:
                timer.cancel()
        self._buffer = bytearray()
        self._headers = None
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

    def _control_frame(self) -> None:
        """Spend a token for a frame that carries no call data; none left is a flood."""
        if not self._control_budget.take(self._clock()):
            raise ProtocolError(ENHANCE_YOUR_CALM, "control frame flood")

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

    # -- frames in ---------------------------------------------------------------------------

    def _frame(self, kind: int, flags: int, stream_id: int, payload: memoryview) -> None:
        if self._headers is not None and kind != CONTINUATION:
            raise ProtocolError(PROTOCOL_ERROR, "header block interrupted")
        if kind == DATA:
            self._data(flags, stream_id, payload)
        elif kind == HEADERS:
            self._headers_frame(flags, stream_id, payload)
        elif kind == CONTINUATION:
            if self._headers is None or self._headers[0] != stream_id:
                raise ProtocolError(PROTOCOL_ERROR, "unexpected CONTINUATION")
            self._control_frame()
            self._headers[2].extend(payload)
            self._check_header_block(len(self._headers[2]))
            if flags & END_HEADERS:
                sid, first_flags, block = self._headers
                self._headers = None
                self._header_block(sid, first_flags, bytes(block))
        elif kind == WINDOW_UPDATE:
            if not self.window_update_budget.take(self._clock()):
                raise ProtocolError(ENHANCE_YOUR_CALM, "WINDOW_UPDATE flood")
            self._window_update(stream_id, payload)
        else:
            self._control_frame()
            self._control(kind, flags, stream_id, payload)

    def _control(self, kind: int, flags: int, stream_id: int, payload: memoryview) -> None:
        if kind == SETTINGS:
            self._settings(flags, stream_id, payload)
        elif kind == PING:
            if len(payload) != 8 or stream_id:
                raise ProtocolError(FRAME_SIZE_ERROR if len(payload) != 8 else PROTOCOL_ERROR, "bad PING")
            if not flags & ACK:
                self.write(frame(PING, ACK, 0, bytes(payload)))
        elif kind == RST_STREAM:
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.local_closed = stream.remote_closed = True
                self.forget(stream)
        elif kind == GOAWAY:
            self._going_away = True
            if not self.streams:
                self.close()
        elif kind == PUSH_PROMISE:
            raise ProtocolError(PROTOCOL_ERROR, "a client may not push")
        # PRIORITY and unknown frame types are ignored, as RFC 9113 asks.

    def _data(self, flags: int, stream_id: int, payload: memoryview) -> None:
        length = len(payload)
        if not length and not flags & END_STREAM:
            self._control_frame()
        self._unacked += length
        if flags & PADDED:
            if not length or payload[0] >= length:
                raise ProtocolError(PROTOCOL_ERROR, "bad DATA padding")
            payload = payload[1 : length - payload[0]]
        stream = self.streams.get(stream_id)
        if stream is None or stream.remote_closed:
            if stream_id == 0 or stream_id > self._last_stream:
                raise ProtocolError(PROTOCOL_ERROR, f"DATA on idle stream {stream_id}")
            return  # a call that already ended; its bytes still counted for the connection window
        stream.unacked += length
        if stream.unacked >= RECEIVE_WINDOW // 2 and not flags & END_STREAM:
            self.write(frame(WINDOW_UPDATE, 0, stream_id, stream.unacked.to_bytes(4, "big")))
            stream.unacked = 0
        if payload:
            stream.receive(payload)
        if flags & END_STREAM and not stream.remote_closed:
            stream.half_close()

    def _headers_frame(self, flags: int, stream_id: int, payload: memoryview) -> None:
        if stream_id == 0:
            raise ProtocolError(PROTOCOL_ERROR, "HEADERS on stream 0")
        start, end = 0, len(payload)
        if flags & PADDED:
            if not end:
                raise ProtocolError(PROTOCOL_ERROR, "bad HEADERS padding")
            start, end = 1, end - payload[0]
        if flags & PRIORITY_FLAG:
            start += 5
        if start > end:
            raise ProtocolError(PROTOCOL_ERROR, "bad HEADERS padding")
        block = payload[start:end]
        self._check_header_block(len(block))
        if flags & END_HEADERS:
            self._header_block(stream_id, flags, bytes(block))
        else:
            self._headers = (stream_id, flags, bytearray(block))

    def _check_header_block(self, size: int) -> None:
        # Checked as the block grows: a peer must not make us hold more than it may send.
        limit = self.limits.max_header_list
        if size > limit:
            self._headers = None
            raise ProtocolError(ENHANCE_YOUR_CALM, f"header block over {limit} bytes")

    def _header_block(self, stream_id: int, flags: int, block: bytes) -> None:
        # Decoded even for a stream about to be refused: the decoder's table must stay in step.
        try:
            headers = self._decoder.decode(block)
        except HPACKError as exc:
            raise ProtocolError(COMPRESSION_ERROR, f"bad header block: {exc}") from exc
        existing = self.streams.get(stream_id)
        if existing is not None:
            # Trailers from the client end its side of the call.
            if not existing.remote_closed:
                existing.half_close()
            return
        if stream_id % 2 == 0 or stream_id <= self._last_stream:
            raise ProtocolError(PROTOCOL_ERROR, f"HEADERS opening stream {stream_id} out of order")
        self._last_stream = stream_id
        fields = [(str(name), str(value)) for name, value in headers]
        self._open(stream_id, flags, fields)

    def _open(self, stream_id: int, flags: int, fields: list[tuple[str, str]]) -> None:
        pseudo = {name: value for name, value in fields if name.startswith(":")}
        metadata = [(name, value) for name, value in fields if not name.startswith(":")]
        if self._going_away or len(self.streams) >= self.limits.max_streams:
            self._control_frame()
            self.write(frame(RST_STREAM, 0, stream_id, REFUSED_STREAM.to_bytes(4, "big")))
            return
        stream = WireStream(self, stream_id, pseudo.get(":path", ""), metadata)
        self.streams[stream_id] = stream
        self._idle_since = None
        if flags & END_STREAM:
            stream.remote_closed = True
        content_type = stream.header("content-type") or ""
        if pseudo.get(":method") != "POST" or not content_type.startswith("application/grpc"):
            self._control_frame()  # a call that never runs is churn (so are the two below)
            self.write(
                frame(HEADERS, END_HEADERS | END_STREAM, stream_id, encode_headers([(":status", "415")]))
            )
            stream.local_closed = True
            if not stream.remote_closed:
                self.write(frame(RST_STREAM, 0, stream_id, NO_ERROR.to_bytes(4, "big")))
            self.forget(stream)
            return
        factory = self.endpoint.methods.get(stream.method)
        if factory is None:
            self._control_frame()
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
            self._control_frame()
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

    def _settings(self, flags: int, stream_id: int, payload: memoryview) -> None:
        if stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            return
        if len(payload) % 6:
            raise ProtocolError(FRAME_SIZE_ERROR, "SETTINGS length")
        for offset in range(0, len(payload), 6):
            key, value = struct.unpack_from(">HL", payload, offset)
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise ProtocolError(FLOW_CONTROL_ERROR, "initial window too large")
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
            elif key == SETTINGS_MAX_FRAME_SIZE:
                if not DEFAULT_MAX_FRAME <= value <= 16_777_215:
                    raise ProtocolError(PROTOCOL_ERROR, "bad MAX_FRAME_SIZE")
                self.peer_max_frame = value
            # HEADER_TABLE_SIZE needs nothing: replies never touch the dynamic table.
        self.write(frame(SETTINGS, ACK, 0))
        self.drain()

    def _window_update(self, stream_id: int, payload: memoryview) -> None:
        if len(payload) != 4:
            raise ProtocolError(FRAME_SIZE_ERROR, "WINDOW_UPDATE length")
        increment = int.from_bytes(payload, "big") & MAX_WINDOW
        if stream_id == 0:
            if not increment:
                raise ProtocolError(PROTOCOL_ERROR, "zero WINDOW_UPDATE")
            self.send_window += increment
            if self.send_window > MAX_WINDOW:
                raise ProtocolError(FLOW_CONTROL_ERROR, "connection window overflow")
        else:
            stream = self.streams.get(stream_id)
            if stream is None:
                return
            stream.send_window += increment
        self.drain()

    # -- frames out --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def drain(self) -> None:
        for stream_id, stream in list(self.blocked.items()):
            if stream.flush_pending():
                self.blocked.pop(stream_id, None)
            elif self.send_window <= 0:
                return

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

    def _fail(self, code: int, message: str) -> None:
        log.warning("HTTP/2 connection error %d from %s: %s", code, self._peer(), message)
        self._buffer = bytearray()
        self._headers = None
        payload = struct.pack(">LL", self._last_stream, code) + message.encode()[:200]
        self.write(frame(GOAWAY, 0, 0, payload))
        self._flush()
        for stream in list(self.streams.values()):
            stream.local_closed = True
            self.forget(stream)
        self.close()

    def go_away(self) -> None:
        """Accept no new calls; the connection closes once its calls have ended."""
        if not self._going_away:
            self._going_away = True
            self.write(frame(GOAWAY, 0, 0, struct.pack(">LL", self._last_stream, NO_ERROR)))
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


class H2GrpcEndpoint:
    """Listens on a port and serves the registered streaming methods."""

    def __init__(self, methods: dict[str, HandlerFactory], limits: Limits | None = None) -> None:
        self.methods = methods
        self.limits = limits or Limits()
        self.connections: set[H2GrpcConnection] = set()
        self._server: asyncio.Server | None = None
        self._drained: asyncio.Event | None = None
        self._refused = 0
        self._refused_logged_at = -REFUSAL_LOG_INTERVAL_S

    def admit(self, connection: H2GrpcConnection) -> bool:
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

    def lost(self, connection: H2GrpcConnection) -> None:
        self.connections.discard(connection)
        if not self.connections and self._drained is not None:
            self._drained.set()

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: H2GrpcConnection(self), host, port, backlog=4096, reuse_address=True
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
