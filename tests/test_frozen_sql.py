"""Stored SQL: migrations keep a frozen copy of what they install, never import live code,
and the newest frozen copy of each piece equals what the live code generates (a change to
the code without a new migration fails here)."""

from __future__ import annotations

import ast
import re

from alembic.script import ScriptDirectory
from sqlalchemy import text

from geosignal import migrate
from geosignal.services.export import stored_sql
from tests.conftest import ROOT

VERSIONS = ROOT / "migrations" / "versions"


def _scripts_newest_first() -> list:
    scripts = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused"))
    return list(scripts.walk_revisions())


def test_no_migration_imports_live_code() -> None:
    files = sorted(VERSIONS.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "geosignal" or n.startswith("geosignal.") for n in names), (path.name, names)


def test_newest_frozen_copy_equals_the_live_sql() -> None:
    live = stored_sql()
    assert set(live) == {"reports_store_features", "report_features_fill"}
    newest: dict[str, tuple[str, str]] = {}
    for script in _scripts_newest_first():
        for name, frozen in getattr(script.module, "FROZEN_SQL", {}).items():
            newest.setdefault(name, (script.revision, frozen))
    assert newest["reports_feature_json"][0] == "0004"  # 0004's frozen row trigger, superseded
    for name, sql in live.items():
        assert name in newest, f"no migration holds a frozen copy of {name}"
        revision, frozen = newest[name]
        assert frozen == sql, f"{name} changed since migration {revision}: add a migration with the new text"


def test_installed_function_is_the_frozen_one(db) -> None:  # noqa: ANN001
    installed = db.scalar(text("SELECT prosrc FROM pg_proc WHERE proname = 'reports_store_features'"))
    body = re.search(r"\$fn\$(.*)\$fn\$", stored_sql()["reports_store_features"], re.S)
    assert body is not None and installed == body.group(1)
    # the per-row trigger of 0004 is gone: only statement-level triggers build Features
    triggers = dict(db.execute(text("""
        SELECT tgname, (tgtype & 1) = 1 FROM pg_trigger
        WHERE tgrelid = 'reports'::regclass AND NOT tgisinternal""")).all())
    assert "reports_feature_json" not in triggers
    for name in ("reports_store_features_insert", "reports_store_features_update", "reports_forget_features"):
        assert triggers[name] is False, f"{name} must be FOR EACH STATEMENT"

