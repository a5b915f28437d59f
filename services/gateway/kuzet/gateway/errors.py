"""One error body for every failure: {"error": {"code": ..., "message": ...}}.

gRPC statuses from the services keep their code name and message (the services never put
internals in them); anything unexpected becomes a bare INTERNAL with no detail.
"""

from __future__ import annotations

from typing import Any

import grpc
from fastapi.responses import JSONResponse

GRPC_TO_HTTP: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.CANCELLED: 499,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def from_grpc(exc: grpc.aio.AioRpcError) -> ApiError:
    code = exc.code()
    status = GRPC_TO_HTTP.get(code, 502)
    if status == 502:
        # UNKNOWN/INTERNAL/DATA_LOSS: the service failed; say so without passing its text on.
        return ApiError(502, "UPSTREAM_ERROR", "a backing service failed; the failure was logged")
    message = exc.details() or code.name.lower()
    if code == grpc.StatusCode.UNAVAILABLE:
        message = "a backing service is unavailable, try again shortly"
    return ApiError(status, code.name, message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "PERMISSION_DENIED", message)


def unauthenticated(message: str) -> ApiError:
    return ApiError(
        401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


# For the OpenAPI document: every route may answer with these.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Bad input",
        401: "Missing or invalid token",
        403: "The caller's roles do not allow this",
        404: "Not found (or not visible to the caller's agency)",
        409: "Conflicts with the current state",
        413: "Request body too large",
        429: "Rate limit exceeded",
        501: "Not implemented by the backing service",
        502: "A backing service failed",
        503: "A backing service is unavailable",
        504: "A backing service timed out",
    }
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {s: {"description": descriptions[s], "content": content} for s in statuses}
