"""Alembic environment: runs on the connection `porteiro_register.migrate` hands over.

The URL never goes through alembic's config (it holds credentials, and '%' in a
password would break ConfigParser interpolation). A PostgreSQL advisory lock makes
replicas that start together migrate one after the other.
"""

from alembic import context
from sqlalchemy import text

# Any constant works; it only has to be the same in every replica.
MIGRATION_LOCK_ID = 0x706F7274  # "port"

connection = context.config.attributes["connection"]
context.configure(connection=connection, transaction_per_migration=False)
with context.begin_transaction():
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    context.run_migrations()
