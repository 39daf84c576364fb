"""call_records: one row per finished call.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OUTCOMES = (
    "authorized",
    "denied",
    "left_at_front_desk",
    "no_answer",
    "visitor_hung_up",
    "resident_hung_up",
    "failed",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("call_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("condominium", sa.Text, nullable=False, server_default="default"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intent", sa.Text),
        sa.Column("apartment", sa.Text, nullable=False, server_default=""),
        sa.Column("block", sa.Text, nullable=False, server_default=""),
        sa.Column("resident_name", sa.Text, nullable=False, server_default=""),
        sa.Column("visitor_name", sa.Text, comment="personal data: NULL unless the condominium allows it"),
        sa.Column("visitor_name_key", sa.Text, comment="visitor_name trimmed, case- and accent-free"),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False, server_default="none"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("call_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("resident_wait_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(_one_of("outcome", OUTCOMES), name="call_records_outcome"),
        sa.CheckConstraint(
            _one_of("decided_by", ("voice", "keypad", "none")), name="call_records_decided_by"
        ),
        sa.CheckConstraint(
            "intent IS NULL OR " + _one_of("intent", ("delivery", "visit")), name="call_records_intent"
        ),
        sa.CheckConstraint("attempts >= 0", name="call_records_attempts"),
        sa.CheckConstraint("ended_at >= started_at", name="call_records_period"),
    )
    # ListCalls: one condominium, newest first (keyset pagination on started_at, call_id).
    op.create_index(
        "call_records_condominium_started",
        "call_records",
        ["condominium", sa.text("started_at DESC"), sa.text("call_id DESC")],
    )
    # Retention: records older than a cut-off, whatever the condominium.
    op.create_index("call_records_started", "call_records", ["started_at"])
    # Erasure by person.
    op.create_index(
        "call_records_visitor_name_key",
        "call_records",
        ["visitor_name_key"],
        postgresql_where=sa.text("visitor_name_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("call_records")
