"""a report rewritten because its commune was renamed or its reporter changed takes a new updated_at

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 07:00:00

``reports_rewrite_feature()`` (migration 0007) rewrites the reports of a commune renamed, or of
a reporter whose role or commune changed, with a no-op ``UPDATE``: a new ``change_seq`` and a
new stored Feature (its ``commune_name``, its reporter's role). It left ``updated_at`` as it
was, so an export ``since=<date-time>`` (which reads ``updated_at``) never carried the change,
and the Feature said new content under an old ``updated_at``. It now sets ``updated_at`` too.
The SQL is written here (frozen): no live code is imported.
"""
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

_REWRITE = """
CREATE OR REPLACE FUNCTION reports_rewrite_feature() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_TABLE_NAME = 'communes' THEN
    UPDATE reports SET commune_nis = commune_nis, updated_at = now() WHERE commune_nis = NEW.nis_code;
  ELSE
    UPDATE reports SET reporter_id = reporter_id, updated_at = now() WHERE reporter_id = NEW.id;
  END IF;
  RETURN NULL;
END $fn$"""

#: The function as migration 0007 installed it (the downgrade).
_REWRITE_0007 = """
CREATE OR REPLACE FUNCTION reports_rewrite_feature() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_TABLE_NAME = 'communes' THEN
    UPDATE reports SET commune_nis = commune_nis WHERE commune_nis = NEW.nis_code;
  ELSE
    UPDATE reports SET reporter_id = reporter_id WHERE reporter_id = NEW.id;
  END IF;
  RETURN NULL;
END $fn$"""


def upgrade() -> None:
    op.execute(_REWRITE)


def downgrade() -> None:
    op.execute(_REWRITE_0007)
