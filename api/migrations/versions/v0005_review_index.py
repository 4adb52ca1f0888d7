"""review index: plans.summary and review_rows (what the review pages filter, sort and page)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch_op:
        batch_op.add_column(sa.Column("summary", sa.JSON(), nullable=True))
    op.create_table(
        "review_rows",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.String(32), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(200)),
        sa.Column("supplier", sa.String(200)),
        sa.Column("location", sa.String(200)),
        sa.Column("order_ref", sa.String(200)),
        sa.Column("customer", sa.String(200)),
        sa.Column("priority", sa.Integer()),
        sa.Column("status", sa.String(32)),
        sa.Column("rank", sa.Integer()),
        sa.Column("stake", sa.Float()),
        sa.Column("units", sa.Integer()),
        sa.Column("day", sa.String(10)),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_review_rows_plan_kind", "review_rows", ["plan_id", "kind", "item"])


def downgrade() -> None:
    op.drop_index("ix_review_rows_plan_kind", table_name="review_rows")
    op.drop_table("review_rows")
    with op.batch_alter_table("plans") as batch_op:
        batch_op.drop_column("summary")
