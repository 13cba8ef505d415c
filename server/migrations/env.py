"""Alembic environment: runs migrations on the engine handed over by server.db."""

from alembic import context

from server.models import Base
from server.partitions import include_name

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run the migrations on the engine given in the config's attributes."""
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          # Autogenerate must not propose dropping PostgreSQL's partitions.
                          include_name=include_name)
        context.run_migrations()


run_migrations_online()
