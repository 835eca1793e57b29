"""The coverage check before a foreign purchase (Art. 10.2): how much of an area the
archive already covers with data meeting the criteria, which items, and what is left.

:func:`compute_coverage` is pure (shapely geometries in, numbers and GeoJSON out);
:func:`coverage_check` feeds it the footprints of the internal catalog's items the
caller is cleared to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rsarchive.requests.geometry import area_from_form, area_km2, polygonal, to_geojson
from rsarchive.requests.models import CoverageQuery
from rsarchive.requests.search import Criteria, find_items, item_gsd, item_level
from rsarchive.users.identity import Principal


@dataclass(frozen=True)
class CoverageResult:
    """The answer of a coverage check."""

    aoi_km2: float
    covered_km2: float
    fraction: float
    items: list[dict[str, Any]]
    uncovered: Any  # shapely geometry, lon/lat
    covered: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "aoi_km2": round(self.aoi_km2, 3), "covered_km2": round(self.covered_km2, 3),
            "fraction": round(self.fraction, 6), "item_count": len(self.items), "items": self.items,
            "uncovered": {"type": "Feature", "properties": {"area_km2": round(self.aoi_km2 - self.covered_km2, 3)},
                          "geometry": to_geojson(self.uncovered)},
            "covered": {"type": "Feature", "properties": {"area_km2": round(self.covered_km2, 3)},
                        "geometry": to_geojson(self.covered)},
            "areas_computed_in": "Lambert azimuthal equal-area centred on the area of interest (WGS84)",
        }


def compute_coverage(aoi: Any, footprints: list[tuple[dict[str, Any], Any]]) -> CoverageResult:
    """Coverage of ``aoi`` by the union of footprints (each ``(summary, lon/lat geometry)``).

    Set operations in lon/lat; areas in an equal-area projection centred on the AOI.
    Footprints that do not intersect the AOI are left out of the item list.
    """
    import shapely

    summaries, geoms = [], []
    for summary, geom in footprints:
        geom = shapely.make_valid(geom)
        if geom.intersects(aoi) and not geom.intersection(aoi).is_empty and geom.intersection(aoi).area > 0:
            summaries.append(summary)
            geoms.append(geom)
    covered = polygonal(shapely.union_all(geoms).intersection(aoi)) if geoms else polygonal(shapely.Polygon())
    uncovered = polygonal(aoi.difference(covered)) if geoms else aoi
    total = area_km2(aoi, reference=aoi)
    cov = area_km2(covered, reference=aoi)
    fraction = min(1.0, cov / total) if total > 0 else 0.0
    return CoverageResult(aoi_km2=total, covered_km2=cov, fraction=fraction, items=summaries,
                          uncovered=uncovered, covered=covered)


def coverage_check(conn: Any, principal: Principal, query: CoverageQuery) -> CoverageResult:
    """Coverage of the query's area by internal-catalog items meeting its criteria that
    ``principal`` is cleared to see."""
    from shapely.geometry import shape

    aoi = area_from_form(query.aoi, query.bbox)
    criteria = Criteria(area=aoi, start=query.start, end=query.end, levels=tuple(lv.value for lv in query.levels),
                        max_gsd=query.max_gsd, max_cloud_cover=query.max_cloud_cover)
    footprints = []
    for item in find_items(conn, criteria, principal):
        if not item.get("geometry"):
            continue
        summary = {"id": item["id"], "collection": item.get("collection"), "level": item_level(item),
                   "datetime": (item.get("properties") or {}).get("datetime"), "gsd": item_gsd(item),
                   "cloud_cover": (item.get("properties") or {}).get("eo:cloud_cover")}
        footprints.append((summary, shape(item["geometry"])))
    return compute_coverage(aoi, footprints)
