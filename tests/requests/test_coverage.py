"""Coverage check (Art. 10.2) on a known layout of footprints: fraction and gap geometry."""

from __future__ import annotations

import pytest
from pyproj import Geod
from shapely.geometry import box, shape

from rsarchive.requests.coverage import compute_coverage
from rsarchive.requests.geometry import area_from_form, area_km2

GEOD = Geod(ellps="WGS84")


def geodesic_km2(geom: object) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def test_known_layout() -> None:
    # AOI: 3 × 2 cells of 0.1° over Hà Nội.  South row: two overlapping footprints cover
    # 105.0-105.2; a footprint straddling the AOI's north-east corner covers 0.05° × 0.05° of it;
    # one footprint lies outside.
    aoi = box(105.0, 21.0, 105.3, 21.2)
    footprints = [
        ({"id": "a"}, box(105.0, 21.0, 105.1, 21.1)),
        ({"id": "b"}, box(105.05, 21.0, 105.2, 21.1)),
        ({"id": "corner"}, box(105.25, 21.15, 105.4, 21.3)),
        ({"id": "outside"}, box(106.0, 22.0, 106.1, 22.1)),
        ({"id": "touching"}, box(105.3, 21.0, 105.4, 21.1)),  # shares only an edge
    ]
    result = compute_coverage(aoi, footprints)
    assert [s["id"] for s in result.items] == ["a", "b", "corner"]
    expected_gap = aoi.difference(box(105.0, 21.0, 105.2, 21.1)).difference(box(105.25, 21.15, 105.3, 21.2))
    assert result.uncovered.symmetric_difference(expected_gap).area < 1e-12
    # areas: equal-area projection against an independent geodesic computation on the ellipsoid
    assert result.aoi_km2 == pytest.approx(geodesic_km2(aoi), rel=1e-4)
    covered = box(105.0, 21.0, 105.2, 21.1).union(box(105.25, 21.15, 105.3, 21.2))
    assert result.covered_km2 == pytest.approx(geodesic_km2(covered), rel=1e-4)
    assert result.fraction == pytest.approx(geodesic_km2(covered) / geodesic_km2(aoi), rel=1e-4)
    assert result.fraction == pytest.approx(0.375, abs=0.001)  # (0.02 + 0.0025) / 0.06 in degrees²
    gap = result.to_dict()["uncovered"]
    assert shape(gap["geometry"]).symmetric_difference(expected_gap).area < 1e-12
    assert gap["properties"]["area_km2"] == pytest.approx(geodesic_km2(expected_gap), rel=1e-3)


def test_nothing_and_everything() -> None:
    aoi = area_from_form({"type": "Polygon", "coordinates": [[[105, 21], [105.2, 21], [105.1, 21.2], [105, 21]]]}, None)
    none = compute_coverage(aoi, [])
    assert none.fraction == 0 and none.uncovered.equals(aoi) and none.items == []
    full = compute_coverage(aoi, [({"id": "big"}, box(104, 20, 106, 22))])
    assert full.fraction == pytest.approx(1.0) and full.uncovered.is_empty
    assert full.to_dict()["uncovered"]["geometry"] == {"type": "MultiPolygon", "coordinates": []}


def test_area_of_a_degree_square_at_the_equator_and_at_21_north() -> None:
    # 1° × 1° at the equator on WGS84 ≈ 12 308 km²; at 21° N it shrinks with cos(latitude)
    assert area_km2(box(0, 0, 1, 1)) == pytest.approx(geodesic_km2(box(0, 0, 1, 1)), rel=1e-4)
    assert area_km2(box(105, 21, 106, 22)) == pytest.approx(geodesic_km2(box(105, 21, 106, 22)), rel=1e-4)


@pytest.mark.parametrize(("aoi", "bbox", "message"), [
    (None, [106, 21, 105, 22], "west < east"),
    (None, [105, 21, 106], "four finite numbers"),
    ({"type": "Point", "coordinates": [105, 21]}, None, "Polygon or MultiPolygon"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, None, "invalid"),
    ({"type": "Polygon", "coordinates": "nonsense"}, None, "not valid GeoJSON"),
    (None, [100, 0, 150, 10], "more than 40 degrees"),
])
def test_bad_areas_are_refused(aoi: dict | None, bbox: list | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        area_from_form(aoi, bbox)
