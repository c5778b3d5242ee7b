"""The zone SQL: migration 0010 keeps a frozen copy equal to the live text; the installed
triggers are statement-level and fire before the stored-features and figures triggers."""

from __future__ import annotations

from sqlalchemy import text

from geosignal.services.zones_sql import zones_sql
from tests.test_frozen_sql import _scripts_newest_first


def test_newest_frozen_copy_equals_the_live_zone_sql() -> None:
    newest = next(s for s in _scripts_newest_first() if "zones" in getattr(s.module, "FROZEN_SQL", {}))
    assert newest.module.FROZEN_SQL["zones"] == zones_sql(), \
        f"the zone SQL changed since migration {newest.revision}: add a migration with the new text"


def test_zone_triggers_are_statement_level_and_fire_first(db) -> None:  # noqa: ANN001
    rows = db.execute(text("""
        SELECT tgname, (tgtype & 1) = 1 FROM pg_trigger
        WHERE tgrelid = 'reports'::regclass AND NOT tgisinternal AND (tgtype & 2) = 0 AND (tgtype & 4) <> 0
        ORDER BY tgname""")).all()  # AFTER INSERT triggers, in firing order (by name)
    names = [r[0] for r in rows]
    assert names[0] == "reports_group_zones_insert" and rows[0][1] is False
    assert {"reports_store_features_insert", "reports_tally_insert"} <= set(names[1:])
