"""REST endpoints declared as rows of a table: adding an endpoint is adding a `Route`.

A row names the method and path, the permission the caller needs, the RPC of the backing
service, how the path, query and body become its request, and how its response becomes the
reply. `mount` turns rows into FastAPI routes; their OpenAPI entries (parameters, bodies, response
schemas) come from the same rows. Endpoints that do something else (evidence bytes, the audit
fan-out, legal holds across services, the WebSocket) are written by hand from the same pieces:
`path_id`, `require`, `gateway_of`, `Gateway.call`.

Every row's call goes through `Gateway.call` (caller identity, deadline, gRPC error -> HTTP
error), its permission through `require` (token, rate limit, role), so rows cannot differ there.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from kuzet.common.v1 import common_pb2
from kuzet.gateway.auth import Principal
from kuzet.gateway.backends import STUBS
from kuzet.gateway.context import gateway_of
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import from_json, json_body, json_response, to_json
from kuzet.gateway.roles import Permission

ID_PATTERN = r"^[A-Za-z0-9._:-]+$"


def path_id(*, max_length: int = 128, pattern: str = ID_PATTERN) -> Any:
    """The validator of an id in a path (the default shape unless a service names ids otherwise)."""
    return Path(min_length=1, max_length=max_length, pattern=pattern)


@dataclass(frozen=True)
class Rpc:
    service: str  # a Backends service name: alerting, identity, ingest, badge, drone, traffic
    method: str
    output: Descriptor


def rpc(service: str, method: str) -> Rpc:
    """A unary RPC of a backing service, checked against its contract when the table is built."""
    try:
        desc = STUBS[service][1].methods_by_name[method]
    except KeyError:
        raise ValueError(f"{service} has no RPC {method!r}") from None
    return Rpc(service, method, desc.output_type)


class Call:
    """What a row's request builder and renderer see: the gateway, the caller and the parameters
    (path ids, query values, `page`, `body`) by name."""

    def __init__(self, gw: Any, principal: Principal, params: dict[str, Any]) -> None:
        self.gw = gw
        self.principal = principal
        self.params = params

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["params"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class ProtoBody:
    """A body in the proto3 JSON mapping of `message`; `what` names it in 400 messages."""

    message: type[Message]
    what: str


@dataclass(frozen=True)
class Audit:
    """A gateway audit record written after the call succeeded (views the service cannot see)."""

    action: str
    target: Callable[[Call], str]


def reply_json(call: Call, resp: Message) -> Any:
    return to_json(resp)


def reply_empty(call: Call, resp: Message) -> Any:
    return {}


DELETED: dict[int | str, dict[str, Any]] = {200: {"description": "Deleted"}}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under the router's prefix; every {name} is an id checked by path_id() unless in params
    permission: Permission
    rpc: Rpc
    request: Callable[[Call], Message]
    summary: str
    # Query (or non-default path) parameters: name -> (annotation, Query(...) or Path(...)).
    params: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    body: type[BaseModel] | ProtoBody | None = None
    paged: bool = False  # page_size/page_token -> `page` (a PageRequest)
    render: Callable[[Call, Any], Any] = reply_json
    ok: dict[int | str, dict[str, Any]] | None = None  # the 200 answer; default: the RPC's output
    errors: tuple[int, ...] = ()  # beyond the router's
    audit: Audit | None = None
    # Retried once at the replica a follower names as leader (x-kuzet-leader).
    at_leader: bool = False
    returns: Any = dict[str, Any]
    tags: tuple[str, ...] = ()
    description: str | None = None
    name: str = ""  # the operation's name (operationId); default: the RPC's, in snake case

    @property
    def operation(self) -> str:
        return self.name or re.sub(r"(?<!^)(?=[A-Z])", "_", self.rpc.method).lower()


# Names the endpoint itself passes (or Call holds): a parameter by one of them would be shadowed.
RESERVED = frozenset({"request", "principal", "page", "body", "gw", "params"})


def _signature(row: Route) -> inspect.Signature:
    if clash := RESERVED & (set(row.params) | set(re.findall(r"{(\w+)}", row.path))):
        raise ValueError(
            f"{row.method} {row.path}: parameter names reserved by the route table: {sorted(clash)}"
        )
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    for name in re.findall(r"{(\w+)}", row.path):
        if name not in row.params:
            params.append(inspect.Parameter(name, kw, annotation=str, default=path_id()))
    params.append(
        inspect.Parameter("principal", kw, annotation=Principal, default=Depends(require(row.permission)))
    )
    if row.paged:
        params.append(
            inspect.Parameter("page", kw, annotation=common_pb2.PageRequest, default=Depends(page_params))
        )
    for name, (annotation, default) in row.params.items():
        # A copy per route: FastAPI writes the parameter's annotation into the object it is given,
        # and rows may share one declaration (e.g. a service's id shape).
        default = copy(default) if isinstance(default, FieldInfo) else default
        params.append(inspect.Parameter(name, kw, annotation=annotation, default=default))
    if isinstance(row.body, ProtoBody):
        params.append(inspect.Parameter("body", kw, annotation=dict[str, Any], default=Body(...)))
    elif row.body is not None:
        params.append(inspect.Parameter("body", kw, annotation=row.body))
    return inspect.Signature(params, return_annotation=row.returns)


def _endpoint(row: Route) -> Callable[..., Any]:
    body = row.body if isinstance(row.body, ProtoBody) else None

    async def endpoint(request: Request, principal: Principal, **params: Any) -> Any:
        gw = gateway_of(request)
        if body is not None:
            params["body"] = from_json(params["body"], body.message, body.what)
        call = Call(gw, principal, params)
        method = getattr(gw.backends.stub(row.rpc.service), row.rpc.method)
        at_leader = None
        if row.at_leader:

            def at_leader(address: str) -> Any:
                return getattr(gw.backends.stub(row.rpc.service, address), row.rpc.method)

        resp = await gw.call(principal, method, row.request(call), at_leader=at_leader)
        if row.audit is not None:
            await gw.record(principal, row.audit.action, row.audit.target(call))
        return row.render(call, resp)

    endpoint.__signature__ = _signature(row)  # type: ignore[attr-defined]
    endpoint.__name__ = endpoint.__qualname__ = row.operation
    return endpoint


def mount(router: APIRouter, rows: list[Route]) -> APIRouter:
    """Adds the rows to `router` as FastAPI routes (in order: a fixed path before a {param} one)."""
    for row in rows:
        extra = json_body(row.body.message.DESCRIPTOR) if isinstance(row.body, ProtoBody) else None
        ok = row.ok if row.ok is not None else json_response(row.rpc.output)
        router.add_api_route(
            row.path,
            _endpoint(row),
            methods=[row.method],
            summary=row.summary,
            description=row.description,
            responses={**ok, **error_responses(*row.errors)},
            openapi_extra=extra,
            tags=list(row.tags) or None,
        )
    return router
