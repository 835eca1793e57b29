"""The ministries' and provinces' own catalogs in the national one (Decree 03/2019/NĐ-CP, Art. 17.1, 18.2).

* :mod:`~rsarchive.harvest.reader` -- a body's STAC API or static catalog, read whole;
* :mod:`~rsarchive.harvest.convert` -- its items as national items (provenance, custodian, due date);
* :mod:`~rsarchive.harvest.run` -- one harvest: idempotent, classification respected, published at once;
* :mod:`~rsarchive.harvest.registry` -- the sources, their schedule (:func:`run_due`) and the
  items held past their due date (:func:`overdue`).
"""

from rsarchive.harvest.convert import Body, collection_id
from rsarchive.harvest.reader import SourceCatalog, SourceItem, read_source
from rsarchive.harvest.registry import (
    DueOutcome,
    HarvestSource,
    OverdueItem,
    add_source,
    list_sources,
    overdue,
    parse_every,
    run_due,
)
from rsarchive.harvest.run import HarvestReport, harvest

__all__ = [
    "Body",
    "DueOutcome",
    "HarvestReport",
    "HarvestSource",
    "OverdueItem",
    "SourceCatalog",
    "SourceItem",
    "add_source",
    "collection_id",
    "harvest",
    "list_sources",
    "overdue",
    "parse_every",
    "read_source",
    "run_due",
]
