"""One loaded catalog and one running server for all API tests (package scope).

Internal database: 60 unclassified products (integer cloud covers, so the query
extension's ``eq`` finds some), 6 raw, 6 level-0, and 8 SECRET products placed over
a distinctive area (the Paracel box 111–113 E, 15.5–17.5 N, where nothing public is).
Everything is published; the classified items are withheld.  Two more items, only in the
internal database, carry no usable classification (one none, one an unknown word): they
are visible to a top-secret clearance only (fail closed).  The app runs under
uvicorn on a free port chosen before publication (public asset hrefs are on its URL); the
product items' thumbnail is one PNG stored in the archive and served by ``/assets/…``.

Dates: public items fall in 2014–2023, the secret ones in June 2033 (2031-01-01 plus
900–907 days), the unmarked ones in August 2034.  The internal database's *stored*
collection extents are computed by the loader from all its items, so the product
collection's stored extent reaches the Paracel box and June 2033; the internal API shows
a stored extent to the top-secret clearance only and gives every other clearance the
extent of the items it may see (``rsarchive.api.extents``; test_internal_clearance).  The
unmarked items are written with ``upsert_item``, so no stored extent includes them.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rsarchive.catalog import init_catalogs, load_items, publish
from rsarchive.db import connect, with_database
from rsarchive.settings import Settings
from rsarchive.storage import Archive, product_key
from rsarchive.testing import stack
from rsarchive.testing.server import free_port, serve
from rsarchive.testing.items import synthetic_item

SECRET_BOX = (111.0, 15.5, 113.0, 17.5)


def png(width: int = 64, height: int = 64) -> bytes:
    """A small RGB gradient PNG (no imaging library needed)."""
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 4 % 256, 128)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@dataclass
class LoadedCatalog:
    settings: Settings
    base_url: str               # http://127.0.0.1:PORT
    public_ids: list[str]
    secret_ids: list[str]
    secret_items: list[dict]
    thumbnail_url: str          # the public URL of public_ids[0]'s thumbnail
    unmarked_ids: list[str]

    @property
    def public_url(self) -> str:
        return f"{self.base_url}/stac/"


@pytest.fixture(scope="package")
def loaded(service_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedCatalog]:

    from rsarchive.api import create_app

    port = free_port()  # chosen first: the public asset hrefs are on the server's own URL
    settings = stack.clone_databases(service_settings).derive(
        archive_root=tmp_path_factory.mktemp("api-archive"), public_base_url=f"http://127.0.0.1:{port}", api_port=port)
    archive = Archive.from_settings(settings)  # one stored thumbnail that every product item points at
    key = product_key("vnredsat1", dt.datetime(2014, 1, 1, tzinfo=dt.timezone.utc), "THUMB", "thumb.png")
    archive.store(key, png())
    thumb = f"{archive.primary.url}/{key}"

    public = [synthetic_item(i, thumbnail_href=thumb, cloud_cover=float(i * 7 % 100)) for i in range(60)]
    public += [synthetic_item(i, form="raw") for i in range(100, 106)]
    public += [synthetic_item(i, form="level0") for i in range(200, 206)]
    secret = [
        synthetic_item(i, security="secret", thumbnail_href=thumb, lon=111.5 + (i % 4) * 0.4, lat=16.0 + (i % 2) * 0.8,
                       when=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=i), cloud_cover=3.0)
        for i in range(900, 908)
    ]
    init_catalogs(settings)
    with connect(settings.internal_database_dsn) as conn:
        load_items(conn, public + secret)
        conn.commit()
    report = publish(settings.internal_database_dsn, settings.public_database_dsn, [i["id"] for i in public + secret],
                     public_url=settings.public_url)
    assert sorted(report.withheld) == sorted(i["id"] for i in secret)
    unmarked = [synthetic_item(i, when=dt.datetime(2032, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=i))
                for i in (950, 951)]
    del unmarked[0]["properties"]["rsarchive:security_classification"]
    unmarked[1]["properties"]["rsarchive:security_classification"] = "Unclassified "  # not an exact spelling
    with connect(settings.internal_database_dsn) as conn:  # as written by hand, not by our item builder
        for item in unmarked:
            conn.execute("SELECT pgstac.upsert_item(%s::jsonb)", (json.dumps(item),))
        conn.commit()

    try:
        with serve(create_app(settings), port=port) as base:
            yield LoadedCatalog(settings, base, [i["id"] for i in public], [i["id"] for i in secret], secret,
                                f"{base}/assets/vnredsat1-product/{public[0]['id']}/thumbnail",
                                [i["id"] for i in unmarked])
    finally:
        stack.drop_databases(with_database(settings.internal_database_dsn, "postgres"),
                             [settings.internal_db, settings.public_db])
