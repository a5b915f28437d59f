"""Wake-ups through PostgreSQL LISTEN/NOTIFY, for replicas that share a database.

A notification is a hint, never the data: PostgreSQL drops notifications sent while a listener
is disconnected, so every user also polls its own table and treats a notification only as "look
now". ``pg_notify`` inside a transaction is delivered at commit, so a woken reader always finds
the committed rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


def libpq_url(sqlalchemy_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://``) as a libpq connection string."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(
    sqlalchemy_url: str,
    channel: str,
    on_notify: Callable[[str], None],
    *,
    on_connected: Callable[[bool], None] | None = None,
    retry_initial_s: float = 0.5,
    retry_max_s: float = 10.0,
) -> None:
    """Call ``on_notify(payload)`` for every notification on ``channel`` until cancelled.

    Reconnects with exponential backoff when the database goes away; ``on_connected`` hears
    True once listening and False when the connection is lost (so health can say so).
    """
    import psycopg
    from psycopg import sql

    delay = retry_initial_s
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(sqlalchemy_url), autocommit=True
            ) as connection:
                await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                if on_connected is not None:
                    on_connected(True)
                delay = retry_initial_s
                async for notification in connection.notifies():
                    on_notify(notification.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any connection failure: report, back off, reconnect
            log.warning("LISTEN %s lost (%s); reconnecting in %.1f s", channel, type(exc).__name__, delay)
        if on_connected is not None:
            on_connected(False)
        await asyncio.sleep(delay)
        delay = min(retry_max_s, delay * 2)
