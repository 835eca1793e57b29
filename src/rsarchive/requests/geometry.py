"""Areas of interest: parsing GeoJSON or a bbox, and areas in an equal-area projection.

Set operations (union, intersection, difference) are done in lon/lat, where the
GeoJSON edges are straight; areas are measured after densifying the edges and
projecting to a Lambert azimuthal equal-area projection centred on the shape.
"""

from __future__ import annotations

import math
from typing import Any

MAX_AOI_DEGREES = 40.0
"""A request's area may span at most this many degrees in longitude and latitude."""


def area_from_form(aoi: dict[str, Any] | None, bbox: list[float] | None) -> Any:
    """A valid shapely (Multi)Polygon in lon/lat from a GeoJSON geometry/Feature or a bbox.

    Raises ``ValueError`` (inside pydantic validation) naming what is wrong.
    """
    import shapely
    from shapely.geometry import box, shape

    if bbox is not None:
        if len(bbox) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in bbox):
            raise ValueError("bbox must be four finite numbers [west, south, east, north]")
        west, south, east, north = (float(v) for v in bbox)
        if not (west < east and south < north):
            raise ValueError("bbox must have west < east and south < north")
        geom = box(west, south, east, north)
    else:
        assert aoi is not None
        obj = aoi
        if obj.get("type") == "Feature":
            obj = obj.get("geometry") or {}
        elif obj.get("type") == "FeatureCollection":
            feats = obj.get("features") or []
            if len(feats) != 1 or not isinstance(feats[0], dict):
                raise ValueError("aoi FeatureCollection must hold exactly one Feature")
            obj = feats[0].get("geometry") or {}
        if not isinstance(obj, dict) or obj.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("aoi must be a GeoJSON Polygon or MultiPolygon (or a Feature holding one)")
        try:
            geom = shape(obj)
        except Exception as exc:  # shapely raises several types for malformed coordinates
            raise ValueError(f"aoi is not valid GeoJSON: {exc}") from None
        coords = shapely.get_coordinates(geom)
        if len(coords) == 0 or not all(math.isfinite(v) for v in coords.ravel()):
            raise ValueError("aoi has no coordinates or non-finite ones")
        if not geom.is_valid:
            raise ValueError(f"aoi polygon is invalid: {shapely.is_valid_reason(geom)}")
    west, south, east, north = geom.bounds
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise ValueError("area must lie within longitude -180..180 and latitude -90..90")
    if east - west > MAX_AOI_DEGREES or north - south > MAX_AOI_DEGREES:
        raise ValueError(f"area spans more than {MAX_AOI_DEGREES:g} degrees")
    if geom.area <= 0:
        raise ValueError("area is empty")
    return geom


def _laea_for(geom: Any) -> Any:
    from pyproj import Transformer

    centre = geom.centroid if not geom.is_empty else None
    lon0, lat0 = (centre.x, centre.y) if centre is not None else (0.0, 0.0)
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=laea +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m", always_xy=True)


def area_km2(geom: Any, reference: Any | None = None) -> float:
    """Area of a lon/lat geometry in km², measured in a Lambert azimuthal equal-area
    projection centred on ``reference`` (default: the geometry itself)."""
    import shapely

    if geom is None or geom.is_empty:
        return 0.0
    transformer = _laea_for(reference if reference is not None else geom)
    dense = shapely.segmentize(geom, 0.01)
    projected = shapely.transform(dense, lambda xy: _project(transformer, xy))
    return float(projected.area) / 1e6


def _project(transformer: Any, xy: Any) -> Any:
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def to_geojson(geom: Any) -> dict[str, Any]:
    """A GeoJSON geometry dict (an empty geometry becomes an empty MultiPolygon)."""
    from shapely.geometry import mapping

    if geom is None or geom.is_empty:
        return {"type": "MultiPolygon", "coordinates": []}
    return dict(mapping(geom))


def polygonal(geom: Any) -> Any:
    """Only the polygonal part of a geometry (drops lines/points left by set operations)."""
    from shapely.geometry import GeometryCollection, MultiPolygon, Polygon

    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    if isinstance(geom, GeometryCollection):
        polys: list[Any] = []
        for part in geom.geoms:
            if isinstance(part, Polygon):
                polys.append(part)
            elif isinstance(part, MultiPolygon):
                polys.extend(part.geoms)
        return MultiPolygon(polys)
    return MultiPolygon()
