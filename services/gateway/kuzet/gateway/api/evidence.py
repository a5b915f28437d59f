"""Evidence bytes behind signed links; every view is an audit record."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from kuzet.common.errors import KuzetError
from kuzet.common.objectstore import check_key
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import gateway_of
from kuzet.gateway.convert import LINK_PERMISSION
from kuzet.gateway.deps import check_rate, client_key
from kuzet.gateway.errors import ApiError, error_responses, not_found
from kuzet.gateway.evidence import EvidenceTokenError
from kuzet.gateway.roles import allowed
from kuzet.identity.v1 import identity_pb2 as ipb

router = APIRouter(tags=["evidence"])
log = logging.getLogger(__name__)


@router.get(
    "/evidence/{token}",
    summary="The bytes a signed evidence link names (links come with alerts and reviews)",
    responses={
        200: {"description": "The image or clip", "content": {"image/jpeg": {}, "video/mp4": {}}},
        **error_responses(403, 404, 429, 503),
    },
)
async def evidence(request: Request, token: str = Path(min_length=1, max_length=4096)) -> Response:
    gw = gateway_of(request)
    check_rate(gw, client_key(request))
    try:
        grant = gw.signer.verify(token)
    except EvidenceTokenError as exc:
        raise ApiError(403, "PERMISSION_DENIED", str(exc)) from None
    who = Principal(
        subject=grant.subject,
        agency=grant.agency,
        roles=frozenset(grant.roles),
        name=grant.subject,
        issuer="evidence-link",
        expires_at=float(grant.expires_at),
    )
    needed = LINK_PERMISSION.get(grant.kind)
    if needed is None:
        raise not_found("no such evidence")
    if not allowed(who.roles, needed):
        raise ApiError(
            403, "PERMISSION_DENIED", "evidence link was not issued for a role that may view evidence"
        )
    content_type = "image/jpeg"
    try:
        if grant.kind in ("object", "alert_object"):
            # The link was signed only after the caller's agency was shown to own the alert, match
            # or traffic observation that names this key, so the key needs no further agency check.
            try:
                key = check_key(grant.ref)
                data = await gw.objects.get(key)
                info = await gw.objects.stat(key)
            except KuzetError as exc:
                raise not_found("no such evidence") from exc
            content_type = info.content_type or content_type
        elif grant.kind == "probe_image":
            resp = await gw.call(
                who,
                gw.backends.identity.GetProbeImage,
                ipb.GetProbeImageRequest(match_id=grant.ref, purpose=grant.purpose),
            )
            data, content_type = resp.data, resp.ref.content_type or content_type
        elif grant.kind == "person_image":
            resp = await gw.call(
                who,
                gw.backends.identity.GetPersonImage,
                ipb.GetPersonImageRequest(image_id=grant.ref, purpose=grant.purpose),
            )
            data, content_type = resp.data, resp.ref.content_type or content_type
        else:
            raise not_found("no such evidence")
    except ApiError as err:
        await gw.record(
            who,
            "evidence.view",
            f"{grant.kind}:{grant.ref}",
            f"denied: {err.code}",
            {"purpose": grant.purpose},
        )
        raise
    await gw.record(
        who,
        "evidence.view",
        f"{grant.kind}:{grant.ref}",
        "ok",
        {"purpose": grant.purpose, "bytes": len(data)},
    )
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "private, max-age=60", "Content-Disposition": "inline"},
    )
