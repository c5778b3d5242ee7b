"""notification_outbox: withdrawal notices to the referent, with what the withdrawal affects

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 11:00:00

A commune withdrawing a report the referent validated, that an export carried or that was in
a zone she confirmed now tells her (kind ``withdrawal``). What it affects is kept with the row
as it was when the report was withdrawn (``details``: the export runs that carried it and
whether each was marked as sent, the confirmed zone it was in and whether the zone is gone),
since the zone may no longer exist when the message leaves. The kinds below are a frozen copy
of ``geosignal.models.notification.NOTIFICATION_KINDS`` at this revision; no live code is
imported. Downgrading deletes the withdrawal rows (0030 cannot hold them).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notification_outbox", sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.drop_constraint("kind_known", "notification_outbox", type_="check")
    op.create_check_constraint("kind_known", "notification_outbox", "kind IN ('submission', 'transition', 'withdrawal')")


def downgrade() -> None:
    op.execute("DELETE FROM notification_outbox WHERE kind = 'withdrawal'")
    op.drop_constraint("kind_known", "notification_outbox", type_="check")
    op.create_check_constraint("kind_known", "notification_outbox", "kind IN ('submission', 'transition')")
    op.drop_column("notification_outbox", "details")
