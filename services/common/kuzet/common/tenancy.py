"""The platform's tenancy: its agencies and each one's sites (the Helm values ``agencies``,
rendered into the tenancy ConfigMap at ``KUZET_TENANCY_FILE``).

A site is where cameras, badges, drones and users belong; a user limited to sites carries them
in its token (``Caller.sites``). With a tenancy file, the services refuse a site an agency does
not have, so a typo does not make a camera nobody's. Without one (one machine, the tests), or
with no agencies listed, any site is accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kuzet.common.errors import ConfigError, InvalidArgument


@dataclass(frozen=True)
class Tenancy:
    region: str = ""
    sites: dict[str, frozenset[str]] = field(default_factory=dict)  # agency -> its site ids

    @property
    def configured(self) -> bool:
        return bool(self.sites)

    def check_site(self, agency: str, site: str, what: str) -> None:
        """INVALID_ARGUMENT unless ``site`` is one of ``agency``'s (``what`` names the field)."""
        if not self.configured:
            return
        if agency not in self.sites:
            raise InvalidArgument(f"{what}: agency {agency!r} is not a tenant of this platform")
        if site not in self.sites[agency]:
            known = ", ".join(sorted(self.sites[agency])) or "none"
            raise InvalidArgument(f"{what}: {site!r} is not a site of agency {agency} (its sites: {known})")


def load_tenancy(path: str) -> Tenancy:
    """The tenancy file at ``path``; an empty path is an unconfigured tenancy."""
    if not path:
        return Tenancy()
    try:
        doc = json.loads(Path(path).read_text())
        agencies = doc.get("agencies") or []
        sites = {str(a["id"]): frozenset(str(s["id"]) for s in a.get("sites") or []) for a in agencies}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"tenancy file {path}: {exc}") from exc
    return Tenancy(region=str(doc.get("region") or ""), sites=sites)
