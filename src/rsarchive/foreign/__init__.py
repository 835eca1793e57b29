"""Foreign products recognised from their own metadata (Decision 81, Art. 5.1 b–c):
USGS Landsat Collection 2, ESA Sentinel-2 SAFE, Airbus DIMAP V2 (SPOT, Pléiades, VNREDSat-1).

Readers (:mod:`~rsarchive.foreign.landsat`, :mod:`~rsarchive.foreign.sentinel2`,
:mod:`~rsarchive.foreign.dimap`) turn a product's metadata into a STAC item with the
field's own libraries; :mod:`~rsarchive.foreign.recognise` finds the format in a delivery
(directory, SAFE folder, archive, files); :mod:`~rsarchive.foreign.cogs` writes the
analysis-ready COGs; :mod:`~rsarchive.foreign.item` adds the archive's assets and fields.
Registration (storage, catalog) is :func:`rsarchive.originals.register`.  No web or CLI import.
"""

from rsarchive.foreign.model import FORMATS, DeliveredFile, ForeignProduct
from rsarchive.foreign.recognise import (
           Delivered,
           open_delivery,
           recognise,
           unrecognised_message,
)

__all__ = ["FORMATS", "Delivered", "DeliveredFile", "ForeignProduct", "open_delivery", "recognise",
           "unrecognised_message"]
