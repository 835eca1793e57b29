"""Losing and comparing the databases, for the backup, restore and rebuild tests (issue 19, part 7)."""

from __future__ import annotations

import copy
import json
from typing import Any

from rsarchive.db import connect, with_database
from rsarchive.services import postgres, roles
from rsarchive.settings import Settings
from rsarchive.testing import stack

__all__ = ["OBJECT_COLUMNS", "drop_and_migrate", "object_rows", "search"]

OBJECT_COLUMNS = "key, form, size, sha256, copies, primary_store, copy_store, publication"
"""What an object record says of its object (then ``stored_at``, then the fixity state, not compared)."""


def drop_and_migrate(settings: Settings) -> None:
    """Both databases lost: dropped, then created empty and migrated as ``services up`` does."""
    admin = with_database(settings.internal_database_dsn, "postgres")
    stack.drop_databases(admin, [settings.internal_db, settings.public_db])
    for name, dsn, kind in ((settings.internal_db, settings.internal_database_dsn, "internal"),
                            (settings.public_db, settings.public_database_dsn, "public")):
        postgres.ensure_database(admin, name)
        postgres.migrate(dsn, kind)
        roles.grant(settings, kind)  # type: ignore[arg-type]


def search(dsn: str, *, drop_published: bool = False) -> list[dict[str, Any]]:
    """Every item pgSTAC's search returns, in its order (what the STAC API serves).
    ``drop_published``: without the ``published`` time, which a new publication sets anew."""
    with connect(dsn) as conn:
        conn.execute("SET search_path TO pgstac, public")
        found = conn.execute("SELECT pgstac.search(%s::jsonb)", (json.dumps({"limit": 10000}),)).fetchone()[0]
    features = copy.deepcopy(found["features"])
    if drop_published:
        for feature in features:
            feature["properties"].pop("published")
    return features


def object_rows(dsn: str) -> dict[str, tuple[Any, ...]]:
    """``rsarchive.objects`` by key: the :data:`OBJECT_COLUMNS`, then ``stored_at``."""
    with connect(dsn) as conn:
        rows = conn.execute(f"SELECT {OBJECT_COLUMNS}, stored_at FROM rsarchive.objects ORDER BY key").fetchall()
    return {r[0]: tuple(r) for r in rows}
