"""Storing an object while its bytes are still arriving.

``ObjectStore.open_stream`` (S3) stores an object while its bytes are still arriving: the caller
feeds them in order and the store sends each multipart part as soon as it is full, so an upload
finishes about one part after its last byte instead of one whole object later. The object only
becomes visible when the caller closes the stream; failing it aborts the multipart upload and
stores nothing.

``start_writeback`` is for the other way, a file staged for ``put_file`` while it arrives.
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
import threading
from collections import deque
from collections.abc import Callable

from kuzet.common.objectstore.base import ObjectInfo


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing a range just written to disk, without waiting for it.

    For a file staged for ``put_file`` while it arrives: its bytes go to disk meanwhile, and the
    fsync that put_file makes finds little left to write. Linux sync_file_range (advisory: no
    error is raised); nothing elsewhere.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


class StreamFailed(Exception):
    """Raised to the store's reader when the caller gives up on a stream."""


class ObjectStream:
    """Bytes handed in order from the event loop's side to a store reading them on its own thread.

    ``feed`` blocks (it runs on a worker thread) while more than ``limit`` bytes wait, so a slow
    store slows the sender rather than filling memory.
    """

    def __init__(self, size: int, limit: int = 32 * 1024 * 1024) -> None:
        self.size = size
        self.limit = limit
        self._parts: deque[memoryview] = deque()
        self._buffered = 0
        self._fed = 0
        self._closed = False
        self._error: BaseException | None = None
        self._reader_done = False
        self._cond = threading.Condition()
        self.result: asyncio.Future[ObjectInfo] = asyncio.get_running_loop().create_future()
        # A failed stream's error is read by whoever awaits it, or by nobody without a warning.
        self.result.add_done_callback(lambda f: f.cancelled() or f.exception())

    @property
    def usable(self) -> bool:
        """Still able to store the object (not failed, the store has not given up)."""
        return self._error is None and not self._reader_done

    def feed(self, data: bytes) -> None:
        with self._cond:
            if not self.usable:
                return
            if self._fed + len(data) > self.size:
                raise ValueError("more bytes than the object's announced size")
            self._parts.append(memoryview(data))
            self._buffered += len(data)
            self._fed += len(data)
            self._cond.notify_all()
            while self._buffered > self.limit and self.usable:
                self._cond.wait()

    def close(self) -> None:
        """Everything was fed: the store may complete the object."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            if self._error is None:
                self._error = error
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        """The store's side: up to ``size`` bytes, b"" at the end; raises once the stream failed."""
        with self._cond:
            while True:
                if self._error is not None:
                    raise StreamFailed(str(self._error))
                if self._parts and (self._buffered >= size > 0 or self._closed):
                    break
                if self._closed and not self._parts:
                    return b""
                self._cond.wait()
            pieces: list[memoryview] = []
            taken = 0
            while self._parts and (size < 0 or taken < size):
                part = self._parts[0]
                take = len(part) if size < 0 else min(len(part), size - taken)
                pieces.append(part[:take])
                taken += take
                if take == len(part):
                    self._parts.popleft()
                else:
                    self._parts[0] = part[take:]
            self._buffered -= taken
            self._cond.notify_all()
        # One copy, outside the lock: a part is 5 MiB or more.
        return b"".join(pieces)

    def reader_finished(self) -> None:
        with self._cond:
            self._reader_done = True
            self._cond.notify_all()


def settle(future: asyncio.Future[ObjectInfo], outcome: ObjectInfo | BaseException) -> None:
    """Complete a stream's ``result`` with what the store's thread ended with, unless done."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
