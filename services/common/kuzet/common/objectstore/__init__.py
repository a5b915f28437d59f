"""Object storage for snapshots, clips and evidence: a local directory or any S3 server.

Both implementations record each object's SHA-256 at write time and can refuse overwrites and
honour a retention date, so evidence code is the same on one machine and in production (where S3
object lock enforces the retention on the server side).

``base`` holds the interface and what the stores share, ``local`` and ``s3`` the two stores,
``streaming`` storing an object while its bytes arrive; ``open_object_store`` picks a store from
a URL.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlparse

from kuzet.common.errors import InvalidArgument
from kuzet.common.objectstore.base import ObjectInfo, ObjectStore, check_key, sha256_hex
from kuzet.common.objectstore.local import LocalObjectStore
from kuzet.common.objectstore.s3 import S3ObjectStore
from kuzet.common.objectstore.streaming import ObjectStream, StreamFailed, start_writeback

__all__ = [
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectStore",
    "ObjectStream",
    "S3ObjectStore",
    "StreamFailed",
    "check_key",
    "open_object_store",
    "sha256_hex",
    "start_writeback",
]


def open_object_store(url: str) -> ObjectStore:
    """``file:///dir`` or ``s3://bucket?endpoint=host:port&secure=false&object_lock=true``.

    S3 credentials come from KUZET_S3_ACCESS_KEY / KUZET_S3_SECRET_KEY (never from the URL, which
    may be logged).
    """
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(parsed.path)
    if parsed.scheme == "s3":
        params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        endpoint = params.get("endpoint")
        if not parsed.netloc or not endpoint:
            raise InvalidArgument("s3 object store URL needs a bucket and ?endpoint=host:port")
        access = os.environ.get("KUZET_S3_ACCESS_KEY", "")
        secret = os.environ.get("KUZET_S3_SECRET_KEY", "")
        if not access or not secret:
            raise InvalidArgument("KUZET_S3_ACCESS_KEY and KUZET_S3_SECRET_KEY must be set for an s3 store")
        return S3ObjectStore(
            endpoint,
            access,
            secret,
            parsed.netloc,
            secure=params.get("secure", "false").lower() == "true",
            region=params.get("region", "us-east-1"),
            object_lock=params.get("object_lock", "true").lower() == "true",
        )
    raise InvalidArgument(f"unsupported object store URL scheme {parsed.scheme!r} (use file:// or s3://)")
