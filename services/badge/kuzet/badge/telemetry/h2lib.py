"""The device port's HTTP/2 framing and HPACK by the ``h2`` package (KUZET_BADGE_DEVICE_HTTP2=h2).

The alternative to h2grpc.py that issue #17 asked to measure: the same calls (grpcwire.py) and
the same limits (h2limits.py), with frames parsed, flow control counted and headers coded by the
``h2`` state machine. h2's own hardening is set from the same limits: SETTINGS_MAX_HEADER_LIST_SIZE
(also the HPACK decoder's cap on a decoded list), MAX_CONCURRENT_STREAMS (a peer over it is a
connection error here, where the builtin framing refuses the stream), 16 KiB inbound frames, and h2's
own cap of 64 CONTINUATION frames per header block (a connection error, PROTOCOL_ERROR); the closed
streams h2 remembers are capped at the stream cap (_H2Connection).

h2 exposes no frames, only what they did, so the project's per-frame budgets are charged by a scan
of the frame headers as the bytes pass through to h2 (_scan): control frames, WINDOW_UPDATE and the
header block's size are charged before h2 sees the frame, and the bytes are handed over in pieces
that end at each complete header block, so that a call refused for its token is charged before the
next one is opened.

Two things h2 does differently, worked around here: a GOAWAY it sends closes its state machine
(no call could end with its status after it), so ours are written as frames of their own; and a
client's GOAWAY closes it as well, so the calls still open end there.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import ProtocolError as H2ProtocolError
from h2.settings import SettingCodes, Settings
from hyperframe.frame import GoAwayFrame

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

DATA, HEADERS, WINDOW_UPDATE, CONTINUATION = 0x0, 0x1, 0x8, 0x9
END_STREAM, END_HEADERS = 0x1, 0x4
DEFAULT_WINDOW = 65_535
_frame_start = struct.Struct(">HBBB")  # 24-bit length as 16 + 8 bits, type, flags


def _text(value: bytes | str) -> str:
    # Header bytes as they came: gRPC metadata is ASCII, and no byte may make decoding fail.
    return value.decode("latin-1") if isinstance(value, bytes) else value


class _Stream(WireStream):
    """A call's replies through h2: its flow-control windows, its HPACK encoder."""

    __slots__ = ("_pending", "_trailers", "headers_sent")

    connection: H2LibConnection

    def __init__(self, connection: H2LibConnection, stream_id: int, method: str, metadata: Fields) -> None:
        super().__init__(connection, stream_id, method, metadata)
        self.headers_sent = False
        self._pending: deque[bytes] = deque()
        self._trailers: Fields | None = None

    def send_message(self, message: bytes) -> None:
        if self.local_closed:
            return
        conn = self.connection
        if not self.headers_sent:
            self.headers_sent = True
            try:
                conn.h2.send_headers(self.stream_id, RESPONSE_FIELDS)
            except H2ProtocolError:
                self._gone()
                return
            conn.dirty()
        self._pending.append(grpc_message(message))
        if not self.flush_pending():
            conn.blocked[self.stream_id] = self

    def _send_status(self, fields: Fields) -> None:
        if not self.headers_sent:
            self.headers_sent = True
            fields = RESPONSE_FIELDS + fields
        self._trailers = fields
        if self._pending:
            return  # sent by flush_pending once the messages before it have gone
        self._send_trailers()

    def _status_unsent(self) -> bool:
        return self._trailers is not None

    def _send_trailers(self) -> None:
        conn, trailers = self.connection, self._trailers
        assert trailers is not None
        self._trailers = None
        try:
            conn.h2.send_headers(self.stream_id, trailers, end_stream=True)
            if not self.remote_closed:
                # The client may stop sending: the call is over (RFC 9113, 8.1).
                conn.h2.reset_stream(self.stream_id, WireConnection.NO_ERROR)
        except H2ProtocolError:
            pass  # the peer reset it first: nothing is owed
        conn.dirty()
        conn.forget(self)

    def flush_pending(self) -> bool:
        conn = self.connection
        h2, stream_id, pending = conn.h2, self.stream_id, self._pending
        try:
            while pending:
                payload = pending[0]
                allowed = min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size)
                if allowed <= 0:
                    return False
                if len(payload) > allowed:
                    h2.send_data(stream_id, payload[:allowed])
                    pending[0] = payload[allowed:]
                else:
                    h2.send_data(stream_id, payload)
                    pending.popleft()
                conn.budget.data_sent()
        except H2ProtocolError:
            self._gone()  # the peer reset it first
            return True
        finally:
            conn.dirty()
        if self._trailers is not None:
            self._send_trailers()
        return True

    def _gone(self) -> None:
        self._pending.clear()
        self._trailers = None
        self.local_closed = True
        self.connection.forget(self)


class _H2Connection(H2Connection):
    def __init__(self, config: H2Configuration, closed_streams: int) -> None:
        # h2 remembers how each closed stream ended, to tell a late frame on it from a protocol
        # error: 2**16 of them by default, 11 MiB a connection that a peer churning calls fills.
        self.MAX_CLOSED_STREAMS = closed_streams
        super().__init__(config)


class _Over(Exception):
    """A frame header over a budget, at ``at`` in the bytes being scanned."""

    def __init__(self, at: int, flood: Flood) -> None:
        super().__init__(str(flood))
        self.at = at


class H2LibConnection(WireConnection):
    """One client connection: bytes through the budget scan into h2, h2's events to the calls."""

    def __init__(self, endpoint: WireEndpoint) -> None:
        super().__init__(endpoint)
        limits = self.limits
        config = H2Configuration(client_side=False, header_encoding=None, validate_inbound_headers=True)
        self.h2 = _H2Connection(config, closed_streams=limits.max_streams)
        self.h2.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: limits.max_streams,
                SettingCodes.INITIAL_WINDOW_SIZE: RECEIVE_WINDOW,
                SettingCodes.MAX_HEADER_LIST_SIZE: limits.max_header_list,
            },
        )
        # h2 sets it from the setting only once the peer acknowledges it.
        self.h2.decoder.max_header_list_size = limits.max_header_list
        self._preface = b""
        self._preface_done = False
        self._head = bytearray()  # a frame header split across reads
        self._skip = 0  # payload bytes of the current frame still to pass
        self._cut_after = False  # the current frame completes a header block
        self._block = 0  # size of the header block so far
        self._raw: list[bytes] = []  # frames of our own, after what h2 had queued before them
        self._flush_scheduled = False

    # -- the framing's side of WireConnection --------------------------------------------------

    def _greet(self) -> None:
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(CONNECTION_RECEIVE_WINDOW - DEFAULT_WINDOW)
        self.dirty()

    def _refusal(self) -> bytes:
        self.h2.initiate_connection()
        self.h2.close_connection(WireConnection.ENHANCE_YOUR_CALM, b"too many connections")
        return self.h2.data_to_send()

    def _new_stream(self, stream_id: int, method: str, metadata: Fields) -> WireStream:
        return _Stream(self, stream_id, method, metadata)

    def _reset(self, stream_id: int, code: int) -> None:
        self.h2.reset_stream(stream_id, code)
        self.dirty()

    def _reply_unsupported(self, stream: WireStream) -> None:
        self.h2.send_headers(stream.stream_id, [(":status", "415")], end_stream=True)
        if not stream.remote_closed:
            self.h2.reset_stream(stream.stream_id, WireConnection.NO_ERROR)
        self.dirty()

    def _send_goaway(self) -> None:
        self._goaway(WireConnection.NO_ERROR, b"")

    def _goaway(self, code: int, debug: bytes) -> None:
        # Not h2.close_connection: it would refuse the statuses of the calls still open.
        frame = GoAwayFrame(0, last_stream_id=self.h2.highest_inbound_stream_id, error_code=code)
        frame.additional_data = debug
        self._raw += (self.h2.data_to_send(), frame.serialize())
        self.dirty()

    def _discard_input(self) -> None:
        self._preface = b""
        self._head = bytearray()
        self._skip = 0

    # -- bytes in ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        offset = 0
        if not self._preface_done:
            data = self._preface + data
            if not (PREFACE.startswith(data) if len(data) < len(PREFACE) else data.startswith(PREFACE)):
                self._fail(WireConnection.PROTOCOL_ERROR, "not an HTTP/2 client preface")
                return
            if len(data) < len(PREFACE):
                self._preface = data
                return
            self._preface, self._preface_done = b"", True
            self._preface_seen()
            offset = len(PREFACE)
        cuts: list[int] = []
        over: _Over | None = None
        try:
            self._scan(data, offset, cuts)
        except _Over as exc:
            over = exc
        try:
            start = 0
            for cut in [*cuts, over.at if over is not None else len(data)]:
                if cut > start:
                    self._events(self.h2.receive_data(data[start:cut]))
                    start = cut
        except H2ProtocolError as exc:
            # h2 has queued its GOAWAY with the error's code.
            log.warning("HTTP/2 connection error from %s: %s", self._peer(), exc)
            self._end_calls()
            self.close()
            return
        except Flood as exc:
            self._fail(WireConnection.ENHANCE_YOUR_CALM, str(exc))
            return
        if over is not None:
            self._fail(WireConnection.ENHANCE_YOUR_CALM, str(over))

    def _scan(self, data: bytes, offset: int, cuts: list[int]) -> None:
        """Charge every frame header in ``data`` from ``offset``; where a header block ends, a cut."""
        end = len(data)
        head = self._head
        while offset < end:
            if self._skip:
                step = min(self._skip, end - offset)
                offset += step
                self._skip -= step
                if self._skip:
                    return
                if self._cut_after:
                    cuts.append(offset)
                    self._cut_after = False
                continue
            if head or end - offset < 9:
                take = min(9 - len(head), end - offset)
                head += data[offset : offset + take]
                offset += take
                if len(head) < 9:
                    return
                hi, lo, kind, flags = _frame_start.unpack_from(head)
                head.clear()
            else:
                hi, lo, kind, flags = _frame_start.unpack_from(data, offset)
                offset += 9
            length = (hi << 8) | lo
            try:
                self._charge(kind, flags, length)
            except Flood as exc:
                raise _Over(max(offset - 9, 0), exc) from None
            self._skip = length
            if kind in (HEADERS, CONTINUATION) and flags & END_HEADERS:
                if length:
                    self._cut_after = True
                else:
                    cuts.append(offset)

    def _charge(self, kind: int, flags: int, length: int) -> None:
        """What the frame costs the peer's budgets, as h2grpc.py charges it."""
        budget = self.budget
        if kind == DATA:
            if not length and not flags & END_STREAM:
                budget.control_frame()
        elif kind == HEADERS:
            self._block = length
            budget.header_block(length)
        elif kind == CONTINUATION:
            budget.control_frame()
            self._block += length
            budget.header_block(self._block)
        elif kind == WINDOW_UPDATE:
            budget.window_update()
        else:
            budget.control_frame()

    def _events(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, DataReceived):
                stream_id = event.stream_id
                self.h2.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
                stream = self.streams.get(stream_id)
                if stream is not None and not stream.remote_closed and event.data:
                    stream.receive(event.data)
            elif isinstance(event, RequestReceived):
                fields = [(_text(name), _text(value)) for name, value in event.headers or ()]
                self._open(event.stream_id, event.stream_ended is not None, fields)
            elif isinstance(event, StreamEnded):
                stream = self.streams.get(event.stream_id)
                if stream is not None and not stream.remote_closed:
                    stream.half_close()
            elif isinstance(event, StreamReset):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.local_closed = stream.remote_closed = True
                    self.forget(stream)
            elif isinstance(event, WindowUpdated | RemoteSettingsChanged):
                self.drain()
            elif isinstance(event, ConnectionTerminated):
                # h2 can send nothing more after the client's GOAWAY: the calls end here.
                self._going_away = True
                self._end_calls()
                self.close()
                return
            # PING, SETTINGS acknowledgements, PRIORITY, unknown frames: h2 answered what needs it.
        self.dirty()

    # -- bytes out -----------------------------------------------------------------------------

    def dirty(self) -> None:
        """h2 has frames queued: they go out in one write at the end of this loop turn."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        if self._raw:
            data = b"".join((*self._raw, data))
            self._raw.clear()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, code: int, message: str) -> None:
        log.warning("HTTP/2 connection error %d from %s: %s", code, self._peer(), message)
        self._discard_input()
        self._goaway(code, message.encode()[:200])
        self._flush()
        self._end_calls()
        self.close()
