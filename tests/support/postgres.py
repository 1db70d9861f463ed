"""The PostgreSQL test database on loopback (created by .ci/postgres.sh)."""

import os
import uuid

from sqlalchemy import create_engine, text

from tests.support.brokers import require

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
DATABASE = os.environ.get("SPAKKY_TEST_POSTGRES_DB", "spakky_dispatch_test")
POSTGRES_URL = (
    f"postgresql+psycopg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{DATABASE}"
)
"""SQLAlchemy URL of the test database (sync and async: psycopg 3 does both)."""


def require_postgres() -> None:
    """Skip unless PostgreSQL runs (fail under ``CI=true``: .ci/postgres.sh starts it)."""
    require(POSTGRES_HOST, POSTGRES_PORT, "PostgreSQL")


def fresh_schema() -> str:
    """A new, empty schema of the test database; its name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
    finally:
        engine.dispose()
    return name


def drop_schema(name: str) -> None:
    """Drop a schema made by ``fresh_schema``."""
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    finally:
        engine.dispose()
