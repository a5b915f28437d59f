"""The local object store: a directory on the file system (one machine, tests)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from kuzet.common.errors import AlreadyExists, FailedPrecondition, NotFound
from kuzet.common.objectstore.base import BlockingStore, ObjectInfo, check_key, check_staged, sha256_hex
from kuzet.common.timeutil import as_utc, utcnow

# Inside a local store's root; no key can start with a dot, so it never collides with an object.
STAGING_DIR = ".staging"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _synced_temp(directory: Path, content: bytes | Path) -> Path:
    """A new fsynced hidden file in ``directory`` holding ``content`` (bytes, or a file's bytes)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            os.close(fd)
            # sendfile() on Linux: page cache to page cache, never through this process's memory.
            shutil.copyfile(content, name)
            _fsync_path(Path(name))
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


class LocalObjectStore(BlockingStore):
    """Objects as files under ``root``, metadata in a sidecar JSON file; writes are atomic."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # Files staged here are on the store's filesystem: put_file links them into place
        # instead of copying (evidence is up to gigabytes); listing hides the directory.
        self._staging = self.root / STAGING_DIR
        self._staging.mkdir(exist_ok=True)

    @property
    def staging_dir(self) -> Path | None:
        return self._staging

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        path = self._path(key)
        return path.with_name(path.name + ".meta.json")

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(_synced_temp(path.parent, data), path)

    def _read_meta(self, key: str) -> dict[str, str]:
        try:
            return dict(json.loads(self._meta_path(key).read_text()))
        except FileNotFoundError:
            raise NotFound(f"object {key} not found") from None

    def _place(self, source: Path, key: str, overwrite: bool) -> None:
        """Give the synced file ``source`` (on this filesystem) the name of ``key``, atomically."""
        path = self._path(key)
        if overwrite:
            if path.exists():
                self._check_unlocked(key)
            os.replace(source, path)
            return
        try:
            # link() refuses an existing name: the never-overwrite check and the write are one step.
            os.link(source, path)
        except FileExistsError:
            raise AlreadyExists(f"object {key} already exists and is never overwritten") from None
        os.unlink(source)

    def _place_temp(self, temp: Path, key: str, overwrite: bool) -> None:
        try:
            self._place(temp, key, overwrite)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _write_meta(self, info: ObjectInfo) -> None:
        meta = {"sha256": info.sha256, "size": str(info.size), "content_type": info.content_type}
        if info.retain_until is not None:
            meta["retain_until"] = as_utc(info.retain_until).isoformat()
        self._write(self._meta_path(info.key), json.dumps(meta).encode())

    def _put(
        self, key: str, data: bytes, content_type: str, retain_until: datetime | None, overwrite: bool
    ) -> ObjectInfo:
        path = self._path(key)
        if path.exists() and not overwrite:
            # Refused before writing anything; _place checks again, atomically.
            raise AlreadyExists(f"object {key} already exists and is never overwritten")
        info = ObjectInfo(key, sha256_hex(data), len(data), content_type, retain_until)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._place_temp(_synced_temp(path.parent, data), key, overwrite)
        self._write_meta(info)
        return info

    def _put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        sha256: str,
        size: int,
        retain_until: datetime | None,
        overwrite: bool,
    ) -> ObjectInfo:
        target = self._path(key)
        check_staged(path, sha256, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        _fsync_path(path)
        try:
            self._place(path, key, overwrite)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Staged on another filesystem (or mount): copied in the kernel, never through memory.
            self._place_temp(_synced_temp(target.parent, path), key, overwrite)
            path.unlink()
        info = ObjectInfo(key, sha256, size, content_type, retain_until)
        self._write_meta(info)
        return info

    def _check_unlocked(self, key: str) -> None:
        until = self._read_meta(key).get("retain_until")
        if until and datetime.fromisoformat(until) > utcnow():
            raise FailedPrecondition(f"object {key} is under retention until {until}")

    def _stat(self, key: str) -> ObjectInfo:
        meta = self._read_meta(key)
        until = meta.get("retain_until")
        return ObjectInfo(
            key,
            meta["sha256"],
            int(meta["size"]),
            meta["content_type"],
            datetime.fromisoformat(until) if until else None,
        )

    def _exists(self, key: str) -> bool:
        return self._path(key).exists()

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"object {key} not found") from None

    def _delete(self, key: str) -> None:
        self._check_unlocked(key)
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def _list(self, prefix: str) -> list[str]:
        keys = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            hidden = (
                rel.endswith(".meta.json")
                or path.name.startswith(".tmp-")
                or rel.startswith(STAGING_DIR + "/")
            )
            if path.is_file() and not hidden and rel.startswith(prefix):
                keys.append(rel)
        return sorted(keys)

    async def presigned_get_url(self, key: str, expires: timedelta = timedelta(minutes=5)) -> str:
        # No server to sign for: callers that need a URL (the gateway) stream the bytes instead.
        return self._path(key).resolve().as_uri()
