"""The device port's own HTTP/2 framing (KUZET_BADGE_DEVICE_HTTP2=builtin, the default).

Why it exists: grpc.aio spends about 190 µs of CPU on every message read plus reply written on a
stream (measured with a bare servicer, see bench/badge.py), so 10,000 badges reporting at 1 Hz
would need two cores for the transport alone. Here a whole socket read is parsed in one pass and
every reply of a loop turn goes out in one write, so the per-message cost is a few frame headers.

It is a real gRPC server for the methods registered with it (any gRPC client can call them):
HTTP/2 framing, SETTINGS, PING, GOAWAY, RST_STREAM, flow control in both directions, HPACK
(decoding through the ``hpack`` package; replies use literal fields only, so no encoder state),
grpc-timeout, and trailers-only responses for errors. The call layer is grpcwire.py, shared with
the ``h2`` package's framing (h2lib.py). Not supported, because badges need none of it: TLS
termination (done by the ingress or a sidecar), message compression, server push and unary
methods.

The port faces the internet before any caller is authenticated, so what one peer may cost is
bounded (h2limits.Limits, charged here frame by frame): the header block a stream opens with,
the control frames it may send (each costs a reply or a wakeup but carries no call), reading
stops while the peer leaves our replies unread, and a connection without a preface, without a
call or that reads nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque

from hpack import Decoder
from hpack.exceptions import HPACKError

from kuzet.badge.telemetry.grpcwire import (
    CONNECTION_RECEIVE_WINDOW,
    PREFACE,
    RECEIVE_WINDOW,
    RESPONSE_FIELDS,
    Fields,
    WireConnection,
    WireEndpoint,
    WireStream,
    grpc_message,
)
from kuzet.badge.telemetry.h2limits import Flood

log = logging.getLogger(__name__)

# Raw HTTP/2 clients (tests, the load generator) build their frames with these.
__all__ = ["PREFACE", "H2GrpcConnection", "frame", "grpc_message"]

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

_frame_header = struct.Struct(">HBBBL")  # 24-bit length as 16 + 8 bits, type, flags, stream id


class ProtocolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    length = len(payload)
    return _frame_header.pack(length >> 8, length & 0xFF, kind, flags, stream_id) + payload


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


def encode_headers(headers: Fields) -> bytes:
    """HPACK literals without indexing and without Huffman: valid for any decoder state."""
    out = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode("ascii"), value.encode("ascii")
        out += b"\x00" + _hpack_int(len(raw_name), 7) + raw_name + _hpack_int(len(raw_value), 7) + raw_value
    return bytes(out)


RESPONSE_HEADERS = encode_headers(RESPONSE_FIELDS)


class _Stream(WireStream):
    """A call's replies as frames of our own: flow control counted here, HPACK literals."""

    __slots__ = ("_pending", "_trailers", "headers_sent", "send_window", "unacked")

    connection: H2GrpcConnection

    def __init__(self, connection: H2GrpcConnection, stream_id: int, method: str, metadata: Fields) -> None:
        super().__init__(connection, stream_id, method, metadata)
        self.send_window = connection.peer_initial_window
        self.unacked = 0
        self.headers_sent = False
        self._pending: deque[bytes] = deque()
        self._trailers: bytes | None = None

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

    def _send_status(self, fields: Fields) -> None:
        block = encode_headers(fields)
        if not self.headers_sent:
            self.headers_sent = True
            block = RESPONSE_HEADERS + block
        self._trailers = frame(HEADERS, END_HEADERS | END_STREAM, self.stream_id, block)
        if self._pending:
            return  # sent by flush_pending once the messages before it have gone
        self._send_trailers()

    def _status_unsent(self) -> bool:
        return self._trailers is not None

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
            conn.budget.data_sent()
        if self._trailers is not None:
            self._send_trailers()
        return True


class H2GrpcConnection(WireConnection):
    """One client connection: frames in, frames out."""

    def __init__(self, endpoint: WireEndpoint) -> None:
        super().__init__(endpoint)
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_max_frame = DEFAULT_MAX_FRAME
        self.send_window = DEFAULT_WINDOW
        self._decoder = Decoder()
        self._decoder.max_header_list_size = self.limits.max_header_list
        self._buffer = bytearray()
        self._preface_done = False
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._last_stream = 0
        self._unacked = 0  # received DATA bytes not yet returned to the client's window
        self._headers: tuple[int, int, bytearray] | None = None  # a block awaiting CONTINUATION

    def _greet(self) -> None:
        limits = self.limits
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

    def _refusal(self) -> bytes:
        goaway = struct.pack(">LL", 0, ENHANCE_YOUR_CALM) + b"too many connections"
        return frame(SETTINGS, 0, 0) + frame(GOAWAY, 0, 0, goaway)

    def _new_stream(self, stream_id: int, method: str, metadata: Fields) -> WireStream:
        return _Stream(self, stream_id, method, metadata)

    def _reset(self, stream_id: int, code: int) -> None:
        self.write(frame(RST_STREAM, 0, stream_id, code.to_bytes(4, "big")))

    def _reply_unsupported(self, stream: WireStream) -> None:
        block = encode_headers([(":status", "415")])
        self.write(frame(HEADERS, END_HEADERS | END_STREAM, stream.stream_id, block))
        if not stream.remote_closed:
            self._reset(stream.stream_id, NO_ERROR)

    def _send_goaway(self) -> None:
        self.write(frame(GOAWAY, 0, 0, struct.pack(">LL", self._last_stream, NO_ERROR)))

    def _discard_input(self) -> None:
        self._buffer = bytearray()
        self._headers = None

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            # Frames are parsed from an immutable copy: payload views may outlive this call.
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        try:
            offset = 0
            if not self._preface_done:
                if len(data) < len(PREFACE):
                    if not PREFACE.startswith(data):
                        raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 client preface")
                    self._buffer += data
                    return
                if not data.startswith(PREFACE):
                    raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 client preface")
                self._preface_done = True
                self._preface_seen()
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
        except Flood as exc:
            self._fail(ENHANCE_YOUR_CALM, str(exc))

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
            self.budget.control_frame()
            self._headers[2].extend(payload)
            self.budget.header_block(len(self._headers[2]))
            if flags & END_HEADERS:
                sid, first_flags, block = self._headers
                self._headers = None
                self._header_block(sid, first_flags, bytes(block))
        elif kind == WINDOW_UPDATE:
            self.budget.window_update()
            self._window_update(stream_id, payload)
        else:
            self.budget.control_frame()
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
            self.budget.control_frame()
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
        assert isinstance(stream, _Stream)
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
        self.budget.header_block(len(block))
        if flags & END_HEADERS:
            self._header_block(stream_id, flags, bytes(block))
        else:
            self._headers = (stream_id, flags, bytearray(block))

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
        self._open(stream_id, bool(flags & END_STREAM), fields)

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
                    assert isinstance(stream, _Stream)
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
            assert isinstance(stream, _Stream)
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

    def _fail(self, code: int, message: str) -> None:
        log.warning("HTTP/2 connection error %d from %s: %s", code, self._peer(), message)
        self._discard_input()
        payload = struct.pack(">LL", self._last_stream, code) + message.encode()[:200]
        self.write(frame(GOAWAY, 0, 0, payload))
        self._flush()
        self._end_calls()
        self.close()
