"""STAC catalog: items built with pystac, validated offline, loaded into pgSTAC,
published (sanitised, unclassified only) to the public database, exported as a
static catalog.

Modules: :mod:`~rsarchive.catalog.inputs` (typed inputs from the pipeline),
:mod:`~rsarchive.catalog.items` (builders), :mod:`~rsarchive.catalog.validation`
(offline schemas), :mod:`~rsarchive.catalog.collections` (``catalog/*.json``,
extents), :mod:`~rsarchive.catalog.loader` (transactional and bulk loads),
:mod:`~rsarchive.catalog.publication`, :mod:`~rsarchive.catalog.export` (static catalog,
through a :mod:`~rsarchive.catalog.sinks` directory or bucket).
"""

from rsarchive.catalog.collections import collection_definitions, ensure_collections, init_catalogs, update_extents
from rsarchive.catalog.export import ExportReport, export_catalog, writer_for
from rsarchive.catalog.sinks import CatalogSink, DirectorySink, S3Sink, open_sink
from rsarchive.catalog.inputs import (
    AssetInput,
    BandInfo,
    GeometricAccuracy,
    Grid,
    Level0Quality,
    Orbit,
    ProcessingInfo,
    Reception,
    SceneMetadata,
    ViewGeometry,
)
from rsarchive.catalog.items import build_item, item_dict
from rsarchive.catalog.loader import LoadReport, bulk_load, delete_items, load_items
from rsarchive.catalog.publication import PublishReport, publish, publish_items, sanitise, withdraw
from rsarchive.catalog.validation import validate_collection, validate_item

__all__ = [
    "AssetInput",
    "BandInfo",
    "CatalogSink",
    "DirectorySink",
    "ExportReport",
    "GeometricAccuracy",
    "Grid",
    "Level0Quality",
    "LoadReport",
    "Orbit",
    "ProcessingInfo",
    "PublishReport",
    "S3Sink",
    "Reception",
    "SceneMetadata",
    "ViewGeometry",
    "build_item",
    "bulk_load",
    "collection_definitions",
    "delete_items",
    "ensure_collections",
    "export_catalog",
    "init_catalogs",
    "item_dict",
    "load_items",
    "open_sink",
    "publish",
    "publish_items",
    "sanitise",
    "update_extents",
    "validate_collection",
    "validate_item",
    "withdraw",
    "writer_for",
]
