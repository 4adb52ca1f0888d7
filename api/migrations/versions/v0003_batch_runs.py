"""batch runs: a table of runs, and the run each job belongs to

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("executor", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_jobs_batch_id", ["batch_id"], unique=False)
        # One stored plan per problem of a run, however often a task is re-run.
        batch_op.create_index("ux_jobs_batch_scenario", ["batch_id", "scenario"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ux_jobs_batch_scenario")
        batch_op.drop_index("ix_jobs_batch_id")
        batch_op.drop_column("batch_id")
    op.drop_table("batch_runs")
