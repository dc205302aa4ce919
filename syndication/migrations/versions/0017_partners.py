"""partners: organisations whose users and tokens (role "partner") reach the subscribers an
admin assigned to them

Revision ID: 0017_partners
Revises: 0016_embargo
Create Date: 2026-12-02 11:40:00
"""

import sqlalchemy as sa
from alembic import op

from syndication.models import UTCDateTime

revision = "0017_partners"
down_revision = "0016_embargo"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    for table, ondelete in (
        ("users", "CASCADE"),
        ("api_tokens", "CASCADE"),
        ("subscribers", "SET NULL"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_partner_id", "partners", ["partner_id"], ["id"], ondelete=ondelete
            )
    with op.batch_alter_table("subscribers") as batch:
        batch.create_index("ix_subscribers_partner_id", ["partner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_index("ix_subscribers_partner_id")
    for table in ("subscribers", "api_tokens", "users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_partner_id", type_="foreignkey")
            batch.drop_column("partner_id")
    op.drop_table("partners")
