"""The public preview zoom: the finest web-map zoom coarser than 20 m per pixel everywhere in Viet Nam."""

from __future__ import annotations

import pytest

from rsarchive.settings import Settings
from rsarchive.tiles.zoom import (
    VIETNAM_LATITUDES,
    ground_resolution_m,
    preview_max_zoom,
)


def test_ground_resolution_of_web_mercator_zooms() -> None:
    assert ground_resolution_m(0, 0.0) == pytest.approx(156_543.034, abs=1e-3)
    assert ground_resolution_m(12, 23.4) == pytest.approx(35.08, abs=0.01)
    assert ground_resolution_m(13, 23.4) == pytest.approx(17.54, abs=0.01)
    assert ground_resolution_m(13, 8.2) == pytest.approx(18.92, abs=0.01)


def test_the_default_public_zoom_is_coarser_than_20_m_across_viet_nam() -> None:
    top = preview_max_zoom(20.0)
    assert top == 12 == Settings.model_fields["tiles_public_max_zoom"].default
    assert all(ground_resolution_m(top, lat) > 20 for lat in VIETNAM_LATITUDES)
    assert any(ground_resolution_m(top + 1, lat) <= 20 for lat in VIETNAM_LATITUDES)
    assert preview_max_zoom(10.0) == 13 and preview_max_zoom(40.0) == 11
