"""notification_outbox: a delivery pass leases the rows it sends instead of locking them

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07 10:00:00

A delivery pass locked the rows it claimed (``FOR UPDATE SKIP LOCKED``) and talked to the SMTP
server while holding the locks: behind a mail server that never answers (10 s per message) a
representative's one-click unsubscribe or a save of her e-mail choice, which updates her
pending rows, waited for the whole pass and answered 503 after 20 s. A pass now marks the rows
it takes in a short transaction (``leased_by``: the pass, ``leased_until``: when another pass
may take them again, a pass killed meanwhile included), sends outside any transaction and
records each outcome in another short one. Both columns are empty when no pass holds the row.
The downgrade drops them (a row leased at that moment is simply pending again).
"""
import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notification_outbox", sa.Column("leased_by", sa.Uuid(), nullable=True))
    op.add_column("notification_outbox", sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("notification_outbox", "leased_until")
    op.drop_column("notification_outbox", "leased_by")
