"""deliveries: the due index in the claim's order (status, next_attempt_at, id)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:20:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index(
            "ix_deliveries_due", ["status", "next_attempt_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
