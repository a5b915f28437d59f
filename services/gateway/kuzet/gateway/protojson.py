"""Protobuf messages <-> the JSON the REST API speaks, and their JSON Schemas for OpenAPI.

The REST bodies are the proto3 JSON mapping of the services' messages (field names as in the
.proto, enums by name, int64 as strings, Timestamps as RFC 3339), so the API and the contracts
cannot drift apart: the schemas below are generated from the same descriptors.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from kuzet.gateway.errors import bad_request

M = TypeVar("M", bound=Message)


def to_json(msg: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def from_json(data: Any, cls: type[M], what: str = "request body") -> M:
    if not isinstance(data, dict):
        raise bad_request(f"{what} must be a JSON object")
    try:
        return json_format.ParseDict(data, cls(), ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise bad_request(f"{what}: {exc}") from exc


def enum_value(enum: EnumDescriptor, name: str, what: str) -> int:
    """Accepts the full enum name (ALERT_STATE_NEW) or its short form (new)."""
    prefix = _enum_prefix(enum)
    candidates = (name, name.upper(), prefix + name.upper())
    for cand in candidates:
        value = enum.values_by_name.get(cand)
        if value is not None and value.number != 0:
            return value.number
    allowed = ", ".join(short_enum_names(enum))
    raise bad_request(f"{what}: unknown value {name!r} (one of {allowed})")


def _enum_prefix(enum: EnumDescriptor) -> str:
    # AlertState -> ALERT_STATE_
    out = []
    for i, ch in enumerate(enum.name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.upper())
    return "".join(out) + "_"


def short_enum_names(enum: EnumDescriptor) -> list[str]:
    prefix = _enum_prefix(enum)
    return [v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0]


_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object"},
}

_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_SFIXED32,
}


class SchemaRegistry:
    """Collects a JSON Schema per message (components/schemas) as routes reference them."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, desc: Descriptor) -> dict[str, Any]:
        if desc.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[desc.full_name])
        if desc.full_name not in self.schemas:
            self.schemas[desc.full_name] = {}  # placeholder first: messages may be recursive
            self.schemas[desc.full_name] = self._message(desc)
        return {"$ref": f"#/components/schemas/{desc.full_name}"}

    def _message(self, desc: Descriptor) -> dict[str, Any]:
        props = {f.name: self._field(f) for f in desc.fields}
        return {"type": "object", "properties": props, "description": f"protobuf {desc.full_name}"}

    def _field(self, f: FieldDescriptor) -> dict[str, Any]:
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value = f.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value)}
        single = self._single(f)
        if f.is_repeated:
            return {"type": "array", "items": single}
        return single

    def _single(self, f: FieldDescriptor) -> dict[str, Any]:
        t = f.type
        if t == FieldDescriptor.TYPE_MESSAGE:
            return self.ref(f.message_type)
        if t == FieldDescriptor.TYPE_ENUM:
            return {"type": "string", "enum": [v.name for v in f.enum_type.values]}
        if t in _INT64:
            return {"type": ["string", "integer"], "format": "int64"}
        if t in _INT32:
            return {"type": "integer"}
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return {"type": ["number", "string"]}
        if t == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if t == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "format": "byte"}
        return {"type": "string"}


SCHEMAS = SchemaRegistry()


def json_response(
    desc: Descriptor, description: str = "OK", *, extra: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    schema = SCHEMAS.ref(desc)
    if extra:
        schema = {"allOf": [schema, {"type": "object", "properties": extra}]}
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}


def json_body(desc: Descriptor, *, required: bool = True) -> dict[str, Any]:
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": SCHEMAS.ref(desc)}}}
    }
