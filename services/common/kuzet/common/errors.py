"""Domain errors. Services raise these; the gRPC server interceptor turns them into status codes."""

from __future__ import annotations

import grpc


class KuzetError(Exception):
    """An error whose message is safe to show to the caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, trailers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        # Trailing metadata sent with the status (what a caller needs to act on the error).
        self.trailers = trailers


class InvalidArgument(KuzetError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(KuzetError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(KuzetError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(KuzetError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(KuzetError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(KuzetError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(KuzetError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(KuzetError):
    code = grpc.StatusCode.UNAVAILABLE


# Trailing metadata of a follower's UNAVAILABLE: the advertise address of the replica that can
# serve the call (the leader, or the holder of the resource); callers retry once there.
LEADER_KEY = "x-kuzet-leader"
# gRPC's own trailer: a negative value tells the caller's channel not to retry by itself (the same
# follower would answer the same), so the caller sees the leader's address at once.
_NO_RETRY = ("grpc-retry-pushback-ms", "-1")


class NotLeader(Unavailable):
    """Only another replica can do this now: UNAVAILABLE naming it in ``x-kuzet-leader``.

    ``leader`` is empty when no replica holds it (a lease is free or expiring): retry later.
    """

    def __init__(self, message: str, leader: str) -> None:
        super().__init__(message, trailers=((LEADER_KEY, leader), _NO_RETRY) if leader else ())
        self.leader = leader


class ConfigError(Exception):
    """Settings that cannot start a service; the message lists every problem."""
