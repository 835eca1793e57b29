"""Publication consults rsarchive.item_actions: a withdrawn item is withheld by every later
publication (a re-ingest loads a new version and publishes it) until it is reinstated."""

from __future__ import annotations


from rsarchive.catalog import load_items, publish_items
from rsarchive.catalog.publication import withdraw, withdrawn_items
from rsarchive.db import connect, transaction
from rsarchive.requests import reports
from rsarchive.requests.models import Reinstatement
from rsarchive.testing.items import synthetic_item
from rsarchive.users import identity


def ingest(settings, items):
    """What the ingest job does at its end: load into the internal catalog, then publish."""
    with connect(settings.internal_database_dsn) as internal, connect(settings.public_database_dsn) as public:
        load_items(internal, items)
        report = publish_items(internal, public, items)
        public.commit()
        internal.commit()
    return report


def in_public(settings, item_id: str) -> bool:
    with connect(settings.public_database_dsn) as conn:
        return conn.execute("SELECT count(*) FROM pgstac.items WHERE id = %s", (item_id,)).fetchone()[0] == 1


def test_reingest_keeps_a_withdrawn_item_out(catalog_settings) -> None:
    settings = catalog_settings
    items = [synthetic_item(i) for i in range(3)]
    assert len(ingest(settings, items).published) == 3
    target = items[1]
    withdraw(settings.internal_database_dsn, settings.public_database_dsn, target["collection"], [target["id"]],
             "radiometric error")
    assert not in_public(settings, target["id"])

    again = ingest(settings, [synthetic_item(i, seed=0) for i in range(3)])  # the same scenes, re-ingested
    assert again.withheld == [target["id"]] and again.reasons == {target["id"]: "withdrawn"}
    assert not in_public(settings, target["id"]) and in_public(settings, items[0]["id"])
    with connect(settings.internal_database_dsn) as conn:
        assert withdrawn_items(conn, items) == {(target["collection"], target["id"])}

    with transaction(settings) as conn:
        identity.add_user(conn, "olga", "officer", "Trung tâm Viễn thám Quốc gia", "top-secret")
        officer = identity.principal_by_name(conn, "olga")
        result = reports.reinstate(conn, settings, officer, target["collection"], target["id"],
                                   Reinstatement(note="reprocessed"))
    assert result["published"] and in_public(settings, target["id"])
    assert ingest(settings, [target]).published == [target["id"]]
    with connect(settings.internal_database_dsn) as conn:
        assert withdrawn_items(conn, items) == set()
