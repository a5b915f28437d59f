"""`python -m kuzet.alerting`: the same as `kuzet serve alerting`, without loading every other service."""

import asyncio
import sys

from kuzet.alerting.server import SPEC
from kuzet.common.errors import ConfigError

try:
    asyncio.run(SPEC.run())
except ConfigError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:
    pass
