"""call_records.failure_reason: why a failed call failed (issue 15).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Additive, with a default: rows written before it (and by a register not yet upgraded) read "".
    op.add_column(
        "call_records",
        sa.Column(
            "failure_reason",
            sa.Text,
            nullable=False,
            server_default="",
            comment="why a failed call failed (dependency_redis, protocol_error...); empty otherwise",
        ),
    )


def downgrade() -> None:
    op.drop_column("call_records", "failure_reason")
