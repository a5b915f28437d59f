"""Schema migrations keep what is stored: the change feed (0002) arrives on a populated 0001."""

from __future__ import annotations

from sqlalchemy import func, select, text

from kuzet.common.db import Database, migrate
from kuzet.common.timeutil import utcnow
from kuzet.identity.changes import record_change
from kuzet.identity.models import ChangeRow, PersonRow


def test_the_change_feed_migrates_from_the_previous_revision(db_url: str) -> None:
    database = Database(db_url)
    migrate(database, "kuzet.identity.migrations", revision="0001")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO identity_galleries (gallery_id, agency_id, name, kind, purpose, legal_basis, "
                "owner, threshold, required_reviewers, model, created_at, created_by) VALUES "
                "('g-1', 'prison', 'escapees', 4, 'p', 'l', 'o', 0.45, 2, '', :now, 'admin')"
            ),
            {"now": utcnow()},
        )
    migrate(database, "kuzet.identity.migrations")
    with database.session() as s:
        record_change(s, "reembed", "g-1")
        record_change(s, "enrol", "g-1", "p-1")
    with database.session() as s:
        rows = s.execute(select(ChangeRow.seq, ChangeRow.kind).order_by(ChangeRow.seq)).all()
        assert s.scalar(select(func.count()).select_from(text("identity_galleries"))) == 1
    assert [kind for _, kind in rows] == ["reembed", "enrol"]
    assert rows[0].seq < rows[1].seq
    database.dispose()


def test_staff_consent_migrates_onto_people_enrolled_before_it(db_url: str) -> None:
    database = Database(db_url)
    migrate(database, "kuzet.identity.migrations", revision="0003")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO identity_galleries (gallery_id, agency_id, name, kind, purpose, legal_basis, "
                "owner, threshold, required_reviewers, model, created_at, created_by) VALUES "
                "('g-1', 'prison', 'officers', 2, 'p', 'l', 'o', 0.45, 1, '', :now, 'admin')"
            ),
            {"now": utcnow()},
        )
        connection.execute(
            text(
                "INSERT INTO identity_people (person_id, gallery_id, external_id, display_name, "
                "enrolled_at, enrolled_by) VALUES ('p-1', 'g-1', 's-17', 'Officer', :now, 'admin')"
            ),
            {"now": utcnow()},
        )
    migrate(database, "kuzet.identity.migrations")
    with database.session() as s:
        person = s.get(PersonRow, "p-1")
        assert person is not None and person.consent == "" and person.external_id == "s-17"
    database.dispose()
