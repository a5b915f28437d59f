from sqlalchemy import update

from kuzet.common.audit import AuditLog, audit_table
from kuzet.common.caller import Caller, reset_current_caller, set_current_caller
from kuzet.common.db import Database
from kuzet.common.testing import audit_table_admin


def _filled(db_url: str, n: int = 5, log: AuditLog | None = None) -> AuditLog:
    log = log or AuditLog(Database(db_url))
    token = set_current_caller(Caller("alice", "prison-a", frozenset({"investigator"})))
    try:
        for i in range(n):
            log.append("identity.search", f"gallery-{i}", details={"probe": f"p{i}", "top_k": 5})
    finally:
        reset_current_caller(token)
    return log


def test_chain_verifies_and_records_who(db_url: str) -> None:
    log = _filled(db_url)
    result = log.verify()
    assert result.ok and result.records_checked == 5
    entries = log.list(agency="prison-a")
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].actor == "alice" and entries[0].details == {"probe": "p0", "top_k": 5}
    assert entries[1].prev_hash == entries[0].hash


def test_edited_record_is_reported_exactly(db_url: str) -> None:
    log = _filled(db_url)
    with audit_table_admin(log.database) as s:
        s.execute(update(audit_table).where(audit_table.c.seq == 3).values(target="gallery-x"))
    result = log.verify()
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "hash" in result.reason


def test_deleted_record_is_reported_exactly(db_url: str) -> None:
    log = _filled(db_url)
    with audit_table_admin(log.database) as s:
        s.execute(audit_table.delete().where(audit_table.c.seq == 2))
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 2 and "missing" in result.reason


def test_rehashed_edit_breaks_the_next_link(db_url: str) -> None:
    from kuzet.common.audit import record_mac

    log = _filled(db_url)
    e = log.list()[1]
    # Even with the key, a re-MACed record breaks its successor's link.
    forged = record_mac(
        log.keys.current, e.seq, e.recorded_at, e.agency, "mallory", e.action, e.target, e.outcome,
        e.details, e.prev_hash,
    )  # fmt: skip
    with audit_table_admin(log.database) as s:
        s.execute(update(audit_table).where(audit_table.c.seq == 2).values(actor="mallory", hash=forged))
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 3


def test_appends_inside_and_outside_a_callers_transaction_interleave(db_url: str) -> None:
    """A writer that holds the database and audits in its own transaction never waits on a
    plain append (this once deadlocked until SQLite's busy timeout gave "database is locked")."""
    import threading

    log = AuditLog(Database(db_url))
    inside_holds_db = threading.Event()
    errors: list[BaseException] = []

    def inside() -> None:
        try:
            with log.database.session() as session:
                log.append("identity.enrol", "gallery-x", session=session)
                inside_holds_db.set()
                threading.Event().wait(0.3)  # the plain append below is now waiting on us
                log.append("identity.enrol", "gallery-x", session=session)
        except BaseException as exc:
            errors.append(exc)

    def outside() -> None:
        inside_holds_db.wait(5)
        try:
            log.append("identity.search", "gallery-x")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=inside), threading.Thread(target=outside)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads) and errors == []
    result = log.verify()
    assert result.ok and result.records_checked == 3
