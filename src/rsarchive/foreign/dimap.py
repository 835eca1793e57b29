"""Airbus DIMAP V2 products (SPOT 6/7, Pléiades, VNREDSat-1), read from their ``DIM_*.XML``.

There is no stactools package for DIMAP V2; this reader takes what the archive needs
from the DIMAP V2 document (Airbus, "DIMAP V2 format", the ``Dimap_Document`` of the
SPOT 6/7 and Pléiades user guides):

* ``Dataset_Sources/…/Strip_Source``: mission, mission index, instrument;
* ``Geometric_Data/Use_Area/Located_Geometric_Values`` at ``Center``: acquisition time,
  viewing and sun angles;
* ``Dataset_Content``: cloud and snow cover, the ``Dataset_Extent`` vertices (the
  valid-data outline);
* ``Coordinate_Reference_System`` and ``Geoposition_Insert``: the map grid (ORTHO);
* ``Raster_Data``: the image files, size and encoding;
* ``Radiometric_Data``: per band the spectral range and the gain/bias of radiance or
  reflectance (physical = DN / GAIN + BIAS, so scale = 1/GAIN, offset = BIAS);
* ``Quality_Assessment``: the product's own quality parameters.

The item is a plain STAC item with the eo, raster, projection and view extensions.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsarchive.errors import UsageError
from rsarchive.foreign.model import DeliveredFile, ForeignProduct

log = logging.getLogger(__name__)

__all__ = ["is_dimap_v2", "read_dimap"]

_EXT = {
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "projection": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.0.0/schema.json",
}
_MISSIONS = {"PHR": ("pleiades", "pleiades"), "SPOT": ("spot", "spot"), "VNREDSAT": ("vnredsat", "vnredsat1-dimap")}
"""DIMAP MISSION → (platform prefix, collection prefix)."""
_TYPES = {("INTEGER", "8", "UNSIGNED"): "uint8", ("INTEGER", "16", "UNSIGNED"): "uint16",
          ("INTEGER", "16", "SIGNED"): "int16", ("FLOAT", "32", "SIGNED"): "float32"}


def is_dimap_v2(path: Path) -> bool:
    """``path`` is a DIMAP V2 document (``<Dimap_Document>`` with METADATA_FORMAT version 2.x)."""
    if not (path.name.upper().startswith("DIM_") and path.suffix.upper() == ".XML"):
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return b"<Dimap_Document" in head and re.search(rb'<METADATA_FORMAT\s+version="2\.', head) is not None


def _text(root: ET.Element, path: str, what: str, source: Path) -> str:
    value = root.findtext(path)
    if value is None or not value.strip():
        raise UsageError(f"DIMAP V2 document {source.name} has no {what} ({path})")
    return value.strip()


def _float(element: ET.Element | None, tag: str) -> float | None:
    value = element.findtext(tag) if element is not None else None
    return float(value) if value not in (None, "") else None


def _common_name(low: float, high: float) -> str:
    if high - low > 0.2:
        return "pan"
    centre = (low + high) / 2
    return "blue" if centre < 0.5 else "green" if centre < 0.6 else "red" if centre < 0.7 else "nir"


def _center(root: ET.Element) -> ET.Element | None:
    for values in root.iterfind("Geometric_Data/Use_Area/Located_Geometric_Values"):
        if (values.findtext("LOCATION_TYPE") or "").strip().lower() == "center":
            return values
    return None


def _bands(root: ET.Element, data_type: str) -> list[dict[str, Any]]:
    """Per band (in raster order): id, eo band and raster band."""
    calibration = root.find("Radiometric_Data/Radiometric_Calibration/Instrument_Calibration/Band_Measurement_List")
    processing = (root.findtext("Radiometric_Data/Radiometric_Processing/RADIOMETRIC_PROCESSING") or "").strip()
    measure = "Band_Reflectance" if processing.upper() == "REFLECTANCE" else "Band_Radiance"
    gains = {e.findtext("BAND_ID"): e for e in calibration.iterfind(measure)} if calibration is not None else {}
    ranges = {e.findtext("BAND_ID"): e for e in calibration.iterfind("Band_Spectral_Range")} if calibration is not None else {}
    order = [e.text.strip() for e in root.iterfind("Raster_Data/Raster_Display/Band_Display_Order/*") if e.text]
    ids = [b for b in (e.findtext("BAND_ID") for e in root.iterfind("Raster_Data/Raster_Band_Description"))
           if b] or order or list(ranges)
    bands = []
    for band_id in ids:
        eo: dict[str, Any] = {"name": band_id}
        spectral = ranges.get(band_id)
        low, high = _float(spectral, "MIN"), _float(spectral, "MAX")
        if low is not None and high is not None:
            eo.update(common_name=_common_name(low, high), center_wavelength=round((low + high) / 2, 4),
                      full_width_half_max=_float(spectral, "FWHM") or round(high - low, 4))
        raster: dict[str, Any] = {"data_type": data_type, "nodata": 0}
        gain = gains.get(band_id)
        if gain is not None and _float(gain, "GAIN"):
            raster["scale"] = 1.0 / float(_float(gain, "GAIN") or 1.0)
            raster["offset"] = _float(gain, "BIAS") or 0.0
            unit = (gain.findtext("MEASURE_UNIT") or "").strip()
            if unit and measure == "Band_Radiance":
                raster["unit"] = unit
        bands.append({"id": band_id, "eo": eo, "raster": raster})
    return bands


def read_dimap(document: Path, files: Sequence[DeliveredFile]) -> ForeignProduct:
    """The product described by the DIMAP V2 document ``document``."""
    try:
        root = ET.parse(document).getroot()
    except ET.ParseError as exc:
        raise UsageError(f"DIMAP V2 document {document.name} is not well-formed XML ({exc}); "
                         "the file is truncated or corrupt") from None
    source = root.find("Dataset_Sources/Source_Identification/Strip_Source")
    if source is None:
        raise UsageError(f"DIMAP V2 document {document.name} has no Dataset_Sources/…/Strip_Source (mission)")
    mission = _text(source, "MISSION", "mission", document)
    index = (source.findtext("MISSION_INDEX") or "").strip().lower()
    prefix = _MISSIONS.get(re.sub(r"[^A-Z]", "", mission.upper()))
    if prefix is None:
        raise UsageError(f"DIMAP V2 document {document.name}: mission {mission!r} is not one of "
                         "PHR (Pléiades), SPOT, VNREDSat")
    platform = f"{prefix[0]}-{index}" if index else prefix[0]
    instrument = (source.findtext("INSTRUMENT") or mission).strip().lower()
    level = (root.findtext(".//Product_Settings/PROCESSING_LEVEL") or root.findtext(".//PROCESSING_LEVEL") or "").strip()
    if not level:
        raise UsageError(f"DIMAP V2 document {document.name} has no PROCESSING_LEVEL")
    centre = _center(root)
    when_text = centre.findtext("TIME") if centre is not None else None
    if not when_text:
        when_text = (f"{_text(source, 'IMAGING_DATE', 'imaging date', document)}T"
                     f"{_text(source, 'IMAGING_TIME', 'imaging time', document)}")
    try:
        when = dt.datetime.fromisoformat(when_text.strip())
    except ValueError:
        raise UsageError(f"DIMAP V2 document {document.name}: acquisition time {when_text!r} is not ISO 8601") from None
    when = when.replace(tzinfo=when.tzinfo or dt.UTC).astimezone(dt.UTC)
    ring = [[float(_text(v, "LON", "vertex LON", document)), float(_text(v, "LAT", "vertex LAT", document))]
            for v in root.iterfind("Dataset_Content/Dataset_Extent/Vertex")]
    if len(ring) < 3:
        raise UsageError(f"DIMAP V2 document {document.name} has no Dataset_Extent with at least 3 vertices")
    footprint = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
    props: dict[str, Any] = {"datetime": when.isoformat().replace("+00:00", "Z"), "platform": platform,
                             "instruments": [instrument], "processing:level": level}
    cloud = root.findtext("Dataset_Content/CLOUD_COVERAGE")
    if cloud:
        props["eo:cloud_cover"] = float(cloud)
    snow = root.findtext("Dataset_Content/SNOW_COVERAGE")
    if snow:
        props["eo:snow_cover"] = float(snow)
    extensions = {"eo", "raster"}
    if centre is not None:
        angles, sun = centre.find("Acquisition_Angles"), centre.find("Solar_Incidences")
        view = {"view:sun_azimuth": _float(sun, "SUN_AZIMUTH"), "view:sun_elevation": _float(sun, "SUN_ELEVATION"),
                "view:incidence_angle": _float(angles, "INCIDENCE_ANGLE"),
                "view:azimuth": _float(angles, "AZIMUTH_ANGLE"), "view:off_nadir": _float(angles, "VIEWING_ANGLE")}
        props.update({k: v for k, v in view.items() if v is not None})
        extensions.add("view")
    crs = root.findtext("Coordinate_Reference_System/Projected_CRS/PROJECTED_CRS_CODE") or ""
    epsg = re.search(r"EPSG::?(\d+)", crs)
    nrows, ncols = root.findtext("Raster_Data/Raster_Dimensions/NROWS"), root.findtext("Raster_Data/Raster_Dimensions/NCOLS")
    insert = root.find("Geoposition/Geoposition_Insert")
    grid: dict[str, Any] = {}
    if epsg and nrows and ncols and insert is not None:
        ulx, uly = _float(insert, "ULXMAP"), _float(insert, "ULYMAP")
        xdim, ydim = _float(insert, "XDIM"), _float(insert, "YDIM")
        if None not in (ulx, uly, xdim, ydim):
            grid = {"proj:code": f"EPSG:{epsg.group(1)}", "proj:shape": [int(nrows), int(ncols)],
                    "proj:transform": [xdim, 0.0, ulx, 0.0, -abs(ydim or 0), uly]}
            props.update(grid)
            props["gsd"] = xdim
            extensions.add("projection")
    encoding = root.find("Raster_Data/Raster_Encoding")
    key = tuple((encoding.findtext(t) or "").strip().upper() for t in ("DATA_TYPE", "NBITS", "SIGN")) \
        if encoding is not None else ("INTEGER", "16", "UNSIGNED")
    data_type = _TYPES.get(key, "uint16")  # type: ignore[arg-type]
    bands = _bands(root, data_type)
    quality = {(q.findtext("QUALITY_PARAMETER_CODE") or "").strip(): (q.findtext("QUALITY_PARAMETER_VALUE") or "").strip()
               for q in root.iterfind("Quality_Assessment/Quality_Parameter") if q.findtext("QUALITY_PARAMETER_CODE")}
    by_name = {f.name.upper(): f.path for f in files} | {f.path.name.upper(): f.path for f in files}
    data_files = [e.get("href", "") for e in root.iterfind("Raster_Data/Data_Access/Data_Files/Data_File/DATA_FILE_PATH")]
    missing = [h for h in data_files if h.upper() not in by_name and Path(h).name.upper() not in by_name]
    if missing:
        raise UsageError(f"DIMAP V2 product {document.name} names image file(s) not delivered: {', '.join(missing)}")
    images = [by_name.get(h.upper()) or by_name[Path(h).name.upper()] for h in data_files]
    assets: dict[str, Any] = {"metadata": {"href": str(document), "type": "application/xml", "roles": ["metadata"],
                                           "title": "DIMAP V2 document"}}
    cog_bands: dict[str, tuple[Path, int]] = {}
    if len(images) == 1 and bands:  # one band-composite image (or one single-band product)
        for number, band in enumerate(bands, start=1):
            assets[band["id"]] = {"href": str(images[0]), "type": _media(images[0]), "roles": ["data"],
                                  "title": f"{platform} band {band['id']}", "eo:bands": [band["eo"]],
                                  "raster:bands": [band["raster"]]}
            if grid:
                cog_bands[band["id"]] = (images[0], number)
    elif len(images) > 1:
        log.info("%s: %d image tiles; tiled DIMAP products are kept as originals only", document.name, len(images))
    dataset = (root.findtext("Dataset_Identification/DATASET_NAME") or document.stem[4:]).strip()
    item = {"type": "Feature", "stac_version": "1.1.0", "stac_extensions": [_EXT[e] for e in sorted(extensions)],
            "id": re.sub(r"[^A-Za-z0-9._+-]", "_", dataset), "geometry": footprint, "properties": props,
            "links": [], "assets": assets}
    collection = f"{prefix[1]}-{re.sub(r'[^a-z0-9]+', '-', level.lower()).strip('-')}"
    return ForeignProduct(format="dimap-v2", collection=collection, mission=platform, item=item,
                          metadata_file=document, bands=cog_bands, quality=quality)


def _media(path: Path) -> str:
    return "image/jp2" if path.suffix.lower() == ".jp2" else "image/tiff; application=geotiff"
