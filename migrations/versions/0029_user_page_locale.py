"""users.page_locale: the language of the pages at the user's latest sign-in

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 23:00:00

A user who never chose a language with the switcher (``locale`` NULL) reads the pages in the
browser's language, but was written to in French: the e-mails had nothing else to go by.
``page_locale`` keeps the language the pages spoke at the latest sign-in (``fr``, ``nl`` or
``en``); e-mails use ``locale``, else ``page_locale``, else French. Pages still follow
``locale``, else the browser. No live code is imported.
"""
import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("page_locale", sa.String(length=2), nullable=True))
    op.create_check_constraint("page_locale_known", "users", "page_locale IN ('fr', 'nl', 'en')")


def downgrade() -> None:
    op.drop_constraint("page_locale_known", "users", type_="check")
    op.drop_column("users", "page_locale")
