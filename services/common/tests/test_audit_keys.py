"""Keyed audit records, key rotation, legacy (unkeyed) records, the append-only trigger, anchors."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from kuzet.common.audit import AuditLog, audit_table, record_hash
from kuzet.common.auditanchor import AnchorStore
from kuzet.common.auditkeys import AuditKey, AuditKeyring, ensure_local_key_file, load_keyring
from kuzet.common.config import AuditSettings
from kuzet.common.db import Database
from kuzet.common.errors import ConfigError
from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.testing import audit_table_admin

K1 = AuditKey("k1", b"first-secret-of-at-least-32-characters")
K2 = AuditKey("k2", b"second-secret-of-at-least-32-characters")


def _append(log: AuditLog, n: int, action: str = "identity.search") -> None:
    for i in range(n):
        log.append(action, f"gallery-{i}", agency="prison-a", actor="alice", details={"i": i})


def _anchors(tmp_path: Path) -> AnchorStore:
    return AnchorStore(
        LocalObjectStore(tmp_path / "anchors"), "audit-anchors/tests", "tests", timedelta(days=1)
    )


def test_records_are_keyed_and_plain_sha256_rehash_fails(db_url: str) -> None:
    log = AuditLog(Database(db_url), AuditKeyring(K1))
    _append(log, 4)
    entries = log.list()
    assert {e.key_id for e in entries} == {"k1"}
    e = entries[1]
    fields = (e.seq, e.recorded_at, e.agency, e.actor, e.action, e.target, e.outcome, e.details, e.prev_hash)
    assert e.hash != record_hash(*fields)
    # A database administrator edits record 2 and re-hashes it and every later one with SHA-256.
    with audit_table_admin(log.database) as s:
        prev = e.prev_hash
        for entry in entries[1:]:
            actor = "mallory" if entry.seq == 2 else entry.actor
            digest = record_hash(
                entry.seq, entry.recorded_at, entry.agency, actor, entry.action, entry.target, entry.outcome,
                entry.details, prev,
            )  # fmt: skip
            s.execute(
                update(audit_table)
                .where(audit_table.c.seq == entry.seq)
                .values(actor=actor, prev_hash=prev, hash=digest)
            )
            prev = digest
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 2 and "keyed hash" in result.reason


def test_a_record_moved_to_another_key_id_fails(db_url: str) -> None:
    log = AuditLog(Database(db_url), AuditKeyring(K1, [K2]))
    _append(log, 3)
    with audit_table_admin(log.database) as s:
        s.execute(update(audit_table).where(audit_table.c.seq == 2).values(key_id="k2"))
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_rotation_verifies_old_records_with_old_keys_and_names_an_unknown_key(db_url: str) -> None:
    database = Database(db_url)
    _append(AuditLog(database, AuditKeyring(K1)), 3)
    rotated = AuditLog(database, AuditKeyring(K2, [K1]))
    _append(rotated, 2)
    assert [e.key_id for e in rotated.list()] == ["k1", "k1", "k1", "k2", "k2"]
    result = rotated.verify()
    assert result.ok and result.records_checked == 5 and result.legacy_records == 0
    forgetful = AuditLog(database, AuditKeyring(K2)).verify()
    assert not forgetful.ok and forgetful.first_bad_seq == 1 and "'k1'" in forgetful.reason


def _legacy_table(database: Database, n: int) -> None:
    """The table as AuditLog made it before keys (create_all, no key id), with n SHA-256 records."""
    details = {"probe": "p"}
    with database.session() as s:
        s.execute(
            text(
                "CREATE TABLE kuzet_audit_log (seq BIGINT PRIMARY KEY, recorded_at TIMESTAMP WITH TIME ZONE "
                "NOT NULL, agency VARCHAR(64) NOT NULL, actor VARCHAR(256) NOT NULL, action VARCHAR(128) "
                "NOT NULL, target VARCHAR(512) NOT NULL, outcome VARCHAR(256) NOT NULL, details JSON NOT NULL, "
                "prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL)"
            )
        )
        prev = "0" * 64
        from kuzet.common.timeutil import utcnow

        for seq in range(1, n + 1):
            at = utcnow()
            digest = record_hash(seq, at, "prison-a", "bob", "identity.search", "g", "ok", details, prev)
            s.execute(
                text(
                    "INSERT INTO kuzet_audit_log VALUES (:seq, :at, 'prison-a', 'bob', 'identity.search', "
                    "'g', 'ok', :details, :prev, :hash)"
                ),
                {"seq": seq, "at": at, "details": json.dumps(details), "prev": prev, "hash": digest},
            )
            prev = digest


def test_legacy_records_migrate_and_verify_as_legacy_up_to_the_first_keyed_one(db_url: str) -> None:
    database = Database(db_url)
    _legacy_table(database, 3)
    log = AuditLog(database, AuditKeyring(K1))  # migrates: the key id column, "" for old records
    only_legacy = log.verify()
    assert only_legacy.ok and only_legacy.legacy_records == 3
    assert "legacy, unkeyed" in only_legacy.reason and "could have rewritten" in only_legacy.reason
    _append(log, 2)
    result = log.verify()
    assert result.ok and result.records_checked == 5 and result.legacy_records == 3
    assert "legacy, unkeyed" in result.reason and "cover them" in result.reason
    assert [e.key_id for e in log.list()] == ["", "", "", "k1", "k1"]

    # Turning keyed records back into "legacy" ones (re-hashed with SHA-256) is refused.
    e = log.list()[4]
    digest = record_hash(
        e.seq, e.recorded_at, e.agency, e.actor, e.action, e.target, e.outcome, e.details, e.prev_hash
    )
    with audit_table_admin(database) as s:
        s.execute(update(audit_table).where(audit_table.c.seq == 5).values(key_id="", hash=digest))
    broken = log.verify()
    assert not broken.ok and broken.first_bad_seq == 5 and "after keyed records began at 4" in broken.reason


def test_the_service_connection_cannot_update_delete_or_truncate(pg_url: str) -> None:
    log = AuditLog(Database(pg_url), AuditKeyring(K1))
    _append(log, 2)
    for statement in (
        "UPDATE kuzet_audit_log SET actor = 'nobody' WHERE seq = 1",
        "DELETE FROM kuzet_audit_log WHERE seq = 2",
        "TRUNCATE kuzet_audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"), log.database.session() as s:
            s.execute(text(statement))
    _append(log, 1)  # appending still works
    assert log.verify().ok and log.verify().records_checked == 3


def test_no_key_refuses_unless_ephemeral_is_allowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUZET_AUDIT_KEY", raising=False)
    monkeypatch.delenv("KUZET_AUDIT_KEY_FILE", raising=False)
    with pytest.raises(ConfigError, match="KUZET_AUDIT_KEY"):
        load_keyring(AuditSettings())
    with pytest.raises(ConfigError, match="no audit key"):
        AuditLog(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    with pytest.raises(ConfigError, match="at least 32"):
        load_keyring(AuditSettings(key="k1:short"))
    ephemeral = load_keyring(AuditSettings(ephemeral_key=True))
    assert ephemeral.ephemeral and ephemeral.current.key_id.startswith("ephemeral-")
    keys = load_keyring(AuditSettings(key="k2:" + "b" * 40, old_keys="k1:" + "a" * 40))
    assert keys.current.key_id == "k2" and keys.key_ids == ["k1", "k2"] and not keys.ephemeral


def test_the_local_key_file_is_made_once_and_read_again(tmp_path: Path) -> None:
    path = ensure_local_key_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    first = load_keyring(AuditSettings(key_file=str(path)))
    assert ensure_local_key_file(tmp_path) == path
    again = load_keyring(AuditSettings(key_file=str(path)))
    assert first.current == again.current and first.current.key_id.startswith("local-")


async def test_anchors_catch_truncation_and_a_rewrite_with_the_key(db_url: str, tmp_path: Path) -> None:
    log = AuditLog(Database(db_url), AuditKeyring(K1), anchors=_anchors(tmp_path))
    await asyncio.to_thread(_append, log, 5)
    anchor = await log.anchor_once()
    assert anchor is not None and anchor.seq == 5 and anchor.key_id == "k1"
    assert anchor.mac == log.list()[-1].hash
    assert await log.anchor_once() is None  # the head did not move: nothing new
    await asyncio.to_thread(_append, log, 2)
    ok = await log.verify_anchored()
    assert (
        ok.ok and ok.anchor is not None and ok.anchor.seq == 5 and ok.anchor_store.startswith("local files")
    )

    # The newest records are deleted, behind the anchor of record 5.
    with audit_table_admin(log.database) as s:
        s.execute(audit_table.delete().where(audit_table.c.seq >= 4))
    truncated = await log.verify_anchored()
    assert not truncated.ok and truncated.first_bad_seq == 4 and "removed" in truncated.reason
    assert log.verify().ok  # without the anchor the shorter chain looks fine


async def test_trails_anchoring_at_once_do_not_starve_the_default_executor(tmp_path: Path) -> None:
    """More trails anchoring at the same moment than the loop's default executor has threads (as
    when several services share one process): each anchor used to hold a worker while waiting for
    the store's write, which needs a worker too, and all of them waited out a 120 s timeout."""
    from concurrent.futures import ThreadPoolExecutor

    workers = 2
    logs = []
    for i in range(workers + 2):
        log = AuditLog(
            Database(f"sqlite:///{tmp_path / f'trail-{i}.db'}"),
            AuditKeyring(K1),
            anchors=AnchorStore(
                LocalObjectStore(tmp_path / "anchors"), "audit-anchors", f"svc-{i}", timedelta(days=1)
            ),
        )
        _append(log, 1)
        logs.append(log)
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=workers)
    loop.set_default_executor(executor)
    try:
        async with asyncio.timeout(30):
            anchored = await asyncio.gather(*(log.anchor_once() for log in logs))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    assert [a.seq if a else None for a in anchored] == [1] * len(logs)


async def test_a_rewrite_with_the_key_fails_at_the_anchored_seq(db_url: str, tmp_path: Path) -> None:
    from kuzet.common.audit import record_mac

    log = AuditLog(Database(db_url), AuditKeyring(K1), anchors=_anchors(tmp_path))
    await asyncio.to_thread(_append, log, 4)
    await log.anchor_once()
    entries = log.list()
    # Whoever holds the key rewrites record 2 and re-MACs every later record: links and MACs hold.
    with audit_table_admin(log.database) as s:
        prev = entries[0].hash
        for e in entries[1:]:
            actor = "mallory" if e.seq == 2 else e.actor
            mac = record_mac(
                K1, e.seq, e.recorded_at, e.agency, actor, e.action, e.target, e.outcome, e.details, prev
            )
            s.execute(
                update(audit_table)
                .where(audit_table.c.seq == e.seq)
                .values(actor=actor, prev_hash=prev, hash=mac)
            )
            prev = mac
    assert log.verify().ok
    result = await log.verify_anchored()
    assert not result.ok and result.first_bad_seq == 4 and "rewritten" in result.reason


async def test_replicas_anchor_each_head_once(pg_url: str, tmp_path: Path) -> None:
    logs = [AuditLog(Database(pg_url), AuditKeyring(K1), anchors=_anchors(tmp_path)) for _ in range(3)]
    await asyncio.to_thread(_append, logs[0], 3)
    written = await asyncio.gather(*(log.anchor_once() for log in logs))
    anchors = [a for a in written if a is not None]
    assert anchors and {a.seq for a in anchors} == {3}
    keys = await LocalObjectStore(tmp_path / "anchors").list("audit-anchors/")
    assert keys == ["audit-anchors/tests/00000000000000000003.json"]
    body = json.loads((tmp_path / "anchors" / keys[0]).read_text())
    assert body["seq"] == 3 and body["mac"] == logs[0].list()[-1].hash


def test_kuzet_up_hands_every_service_the_key_file_of_its_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuzet.common.launcher import Launcher

    monkeypatch.delenv("KUZET_AUDIT_KEY", raising=False)
    monkeypatch.delenv("KUZET_AUDIT_KEY_FILE", raising=False)
    launcher = Launcher(tmp_path / "platform", free_ports=True)
    files = {launcher.environment(u.key)["KUZET_AUDIT_KEY_FILE"] for u in launcher.units()}
    assert files == {str(tmp_path / "platform" / "audit.key")}
    restarted = Launcher(tmp_path / "platform", free_ports=True)
    key = load_keyring(AuditSettings(key_file=files.pop())).current
    assert (
        load_keyring(
            AuditSettings(key_file=restarted.environment("alerting")["KUZET_AUDIT_KEY_FILE"])
        ).current
        == key
    )
    # An operator's key wins over the local file.
    monkeypatch.setenv("KUZET_AUDIT_KEY", "ops:" + "c" * 40)
    assert "KUZET_AUDIT_KEY_FILE" not in restarted.environment("alerting")


def test_a_bench_run_gets_a_key_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from kuzet.common.auditkeys import use_run_audit_key

    monkeypatch.setenv("KUZET_AUDIT_KEY", "ops:" + "c" * 40)
    use_run_audit_key()
    assert load_keyring().current.key_id == "ops"
    monkeypatch.delenv("KUZET_AUDIT_KEY")
    monkeypatch.delenv("KUZET_AUDIT_KEY_FILE", raising=False)
    use_run_audit_key()
    assert load_keyring().current.key_id.startswith("run-")


def test_a_service_role_with_insert_and_select_appends_but_cannot_rewrite(pg_url: str) -> None:
    """The deployment the docs ask for: the service's own role, the table owned by another."""
    import uuid

    owner = AuditLog(Database(pg_url), AuditKeyring(K1))  # migrations run as the owner
    _append(owner, 1)
    role = f"kuzet_svc_{uuid.uuid4().hex[:8]}"
    with owner.database.session() as s:
        s.execute(text(f"CREATE ROLE {role} LOGIN"))
        s.execute(text(f"GRANT SELECT, INSERT ON kuzet_audit_log TO {role}"))
        s.execute(text(f"GRANT SELECT ON alembic_version_audit TO {role}"))
    service_url = make_url(pg_url).set(username=role, password=None).render_as_string(hide_password=False)
    service = AuditLog(Database(service_url), AuditKeyring(K1))
    try:
        _append(service, 2)
        assert service.verify().ok and service.verify().records_checked == 3
        for statement in (
            "UPDATE kuzet_audit_log SET actor = 'nobody' WHERE seq = 1",
            "DELETE FROM kuzet_audit_log",
            "ALTER TABLE kuzet_audit_log DISABLE TRIGGER USER",
        ):
            with pytest.raises(DBAPIError), service.database.session() as s:
                s.execute(text(statement))
    finally:
        service.database.dispose()
        with owner.database.session() as s:
            s.execute(text(f"DROP OWNED BY {role}"))
            s.execute(text(f"DROP ROLE {role}"))
        owner.database.dispose()


async def test_a_running_trail_anchors_its_head_as_it_moves_and_at_stop(tmp_path: Path) -> None:
    anchors = _anchors(tmp_path)
    log = AuditLog(
        Database(f"sqlite:///{tmp_path / 'a.db'}"), AuditKeyring(K1), anchors=anchors, anchor_interval_s=1.0
    )
    await log.start()
    try:
        await asyncio.to_thread(_append, log, 2)
        for _ in range(300):  # the loop runs every second; a loaded machine gets 30 s
            latest = await anchors.latest()
            if latest is not None and latest.seq == 2:
                break
            await asyncio.sleep(0.1)
        assert latest is not None and latest.seq == 2
        await asyncio.to_thread(_append, log, 1)
    finally:
        await log.stop()
    final = await anchors.latest()
    assert final is not None and final.seq == 3  # anchored on the way out


async def test_the_latest_anchor_is_found_from_any_head_the_database_claims(object_store: Any) -> None:
    from kuzet.common.timeutil import utcnow

    anchors = AnchorStore(object_store, "audit-anchors/tests", "tests", timedelta(days=1))
    assert await anchors.latest(0) is None and await anchors.latest(500) is None
    for seq in (3, 7, 40):
        await anchors.write(seq, f"{seq:064x}", "k1", utcnow())
    again = await anchors.write(40, "f" * 64, "k1", utcnow())  # another replica, the same seq
    assert again.mac == f"{40:064x}"  # the first anchor stands
    # Above, at, and far below or above the anchors: the newest is always the one found.
    for head in (0, 1, 10, 39, 40, 41, 1000, 10**9):
        latest = await anchors.latest(head)
        assert latest is not None and latest.seq == 40 and latest.mac == f"{40:064x}", head
