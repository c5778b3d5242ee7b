"""the audit journal stamps each line's id and time itself

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 16:00:00

A line is appended with the next number of the journal's sequence and the transaction's time,
whatever the ``INSERT`` says: ``OVERRIDING SYSTEM VALUE`` (which needs no more than
``INSERT``) chose an id, and an ``at`` in the past slipped a line in before the report it
named (an operator trial, as the service role). A ``BEFORE INSERT`` row trigger; the
append-only trigger of migration 0009 still refuses ``UPDATE``, ``DELETE`` and ``TRUNCATE``.
No live code is imported.
"""
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

UPGRADE_SQL = """
CREATE FUNCTION audit_events_stamp() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- the next number and the transaction's time, never the writer's: a line cannot be
  -- slipped in before another (the default took a number already: the sequence has gaps)
  NEW.id := nextval(pg_get_serial_sequence('audit_events', 'id'));
  NEW.at := now();
  RETURN NEW;
END $fn$;
CREATE TRIGGER audit_events_stamp BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_stamp();
"""

DOWNGRADE_SQL = """
DROP TRIGGER audit_events_stamp ON audit_events;
DROP FUNCTION audit_events_stamp();
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
