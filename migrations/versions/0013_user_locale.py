"""users.locale: the language of the pages a user chose

Revision ID: 0013
Revises: 0012
Create Date: 2027-01-10 10:00:00

``fr``, ``nl`` or ``en``; NULL means the browser's language (Accept-Language), then French.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("locale", sa.String(length=2), nullable=True))
    op.create_check_constraint("locale_known", "users", "locale IN ('fr', 'nl', 'en')")


def downgrade() -> None:
    op.drop_constraint("locale_known", "users", type_="check")
    op.drop_column("users", "locale")
