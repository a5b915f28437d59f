"""`python -m kuzet.federation`: the same as `kuzet serve federation`, without loading every other service."""

import asyncio
import sys

from kuzet.common.errors import ConfigError
from kuzet.federation.server import SPEC

try:
    asyncio.run(SPEC.run())
except ConfigError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:
    pass
