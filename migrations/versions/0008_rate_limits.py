"""rate-limit counters shared by all workers; session versions

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-01 14:00:00

An UNLOGGED table of fixed-window counters: Flask-Limiter's storage
(:mod:`geosignal.ratelimit`), so that every gunicorn worker sees the same counts; and
``users.session_version``, bumped on sign-out, password change and deactivation so that a
session cookie issued before stops working.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        prefixes=["UNLOGGED"],
    )
    op.add_column("users", sa.Column("session_version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("users", "session_version")
    op.drop_table("rate_limits")
