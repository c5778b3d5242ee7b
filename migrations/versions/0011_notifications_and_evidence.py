"""notification outbox, submission mail preference, evidence (speed tests and photos)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00

``notification_outbox`` holds the e-mails to send, written in the same transaction as the
change they tell (:mod:`geosignal.services.notifications`); ``users.submission_mail`` is a
referent's choice between one message per submission and a daily digest.
``report_speed_tests`` and ``report_photos`` hold a report's evidence
(:mod:`geosignal.services.evidence`); photos are stored re-encoded, without metadata.
The ranges below are frozen copies of ``geosignal.models.evidence.SPEED_TEST_RANGES`` and
``geosignal.vocab.OPERATORS`` at this revision.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("submission_mail", sa.String(length=6), server_default="each", nullable=False))
    op.create_check_constraint("submission_mail_known", "users", "submission_mail IN ('each', 'digest')")
    op.execute("CREATE SEQUENCE notification_batch_seq AS bigint")
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=True),
        sa.Column("delivery", sa.String(length=6), server_default="each", nullable=False),
        sa.Column("batch", sa.BigInteger(), server_default=sa.text("nextval('notification_batch_seq')"),
                  nullable=False),
        sa.Column("state", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("delivery IN ('each', 'digest')", name="delivery_known"),
        sa.CheckConstraint("kind IN ('submission', 'transition')", name="kind_known"),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed', 'skipped')", name="state_known"),
        sa.ForeignKeyConstraint(["recipient_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_outbox_due", "notification_outbox", ["next_attempt_at"], unique=False,
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_index("ix_notification_outbox_recipient_id", "notification_outbox", ["recipient_id"], unique=False)
    op.create_index("ix_notification_outbox_report_id", "notification_outbox", ["report_id"], unique=False)
    op.create_table(
        "report_photos",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png')", name="content_type_known"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_photos_report_id", "report_photos", ["report_id"], unique=False)
    op.create_table(
        "report_speed_tests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("download_mbps", sa.Float(), nullable=True),
        sa.Column("upload_mbps", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("signal_dbm", sa.Float(), nullable=True),
        sa.Column("operator", sa.String(length=20), nullable=True),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("download_mbps IS NULL OR download_mbps BETWEEN 0.0 AND 10000.0",
                           name="download_mbps_range"),
        sa.CheckConstraint("upload_mbps IS NULL OR upload_mbps BETWEEN 0.0 AND 10000.0", name="upload_mbps_range"),
        sa.CheckConstraint("latency_ms IS NULL OR latency_ms BETWEEN 0.0 AND 60000.0", name="latency_ms_range"),
        sa.CheckConstraint("signal_dbm IS NULL OR signal_dbm BETWEEN -150.0 AND -20.0", name="signal_dbm_range"),
        sa.CheckConstraint("operator IS NULL OR operator IN ('Proximus', 'Orange', 'Telenet/BASE', 'DIGI', 'VOO', "
                           "'other')", name="operator_known"),
        sa.CheckConstraint("num_nonnulls(download_mbps, upload_mbps, latency_ms, signal_dbm) > 0", name="some_value"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_speed_tests_report_id", "report_speed_tests", ["report_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_speed_tests_report_id", table_name="report_speed_tests")
    op.drop_table("report_speed_tests")
    op.drop_index("ix_report_photos_report_id", table_name="report_photos")
    op.drop_table("report_photos")
    op.drop_index("ix_notification_outbox_report_id", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_recipient_id", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_due", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.execute("DROP SEQUENCE notification_batch_seq")
    op.drop_constraint("submission_mail_known", "users", type_="check")
    op.drop_column("users", "submission_mail")
