"""users.notification_mail: every recipient chooses each message, a daily digest, or none

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 10:00:00

``users.submission_mail`` (0011) was the referent's choice between one message per submission
and a daily digest; representatives had no choice and could not stop the e-mails. The column
becomes ``users.notification_mail``, the choice of whoever is sent e-mails (the referent: new
submissions; a representative: status changes of their commune's reports), and may be
``none`` too (no outbox row is written for such a user; an unsubscribe link sets it). The
list below is a frozen copy of ``geosignal.models.notification.NOTIFICATION_MAIL_CHOICES`` at
this revision; no live code is imported. Downgrading turns ``none`` back into ``each`` (0011
knew no other way to stop e-mails).
"""
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("submission_mail_known", "users", type_="check")
    op.alter_column("users", "submission_mail", new_column_name="notification_mail")
    op.create_check_constraint("notification_mail_known", "users",
                               "notification_mail IN ('each', 'digest', 'none')")


def downgrade() -> None:
    op.drop_constraint("notification_mail_known", "users", type_="check")
    op.execute("UPDATE users SET notification_mail = 'each' WHERE notification_mail = 'none'")
    op.alter_column("users", "notification_mail", new_column_name="submission_mail")
    op.create_check_constraint("submission_mail_known", "users", "submission_mail IN ('each', 'digest')")
