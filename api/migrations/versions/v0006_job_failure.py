"""job failure kinds and idempotent retries: jobs.failure, released_idempotency_key, retried_by, retry_of;
an index on (created_by, state) for the per-key limit on queued and running jobs

A job failed for a server-side reason (``failure = 'server'``) gives up its ``Idempotency-Key``
(kept in ``released_idempotency_key``) to the new job a retry with that key starts; the unique
constraint on ``idempotency_key`` stays as it is.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("failure", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("released_idempotency_key", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("retried_by", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("retry_of", sa.String(32), nullable=True))
        batch_op.create_index("ix_jobs_released_idempotency_key", ["released_idempotency_key"])
        batch_op.create_index("ix_jobs_created_by_state", ["created_by", "state"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_created_by_state")
        batch_op.drop_index("ix_jobs_released_idempotency_key")
        batch_op.drop_column("retry_of")
        batch_op.drop_column("retried_by")
        batch_op.drop_column("released_idempotency_key")
        batch_op.drop_column("failure")
