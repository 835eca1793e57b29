"""``metadata.json`` of an image product (L2A): schema ``rsarchive-product/1``.

Written by :func:`rsarchive.product.process.process_product`; everything the
catalog needs for the product's STAC item.  Times are ISO 8601 UTC with ``Z``;
lon/lat are WGS84 degrees::

    format            "rsarchive-product/1"
    level             "product";  processing_level "L2A"
    product_id        "<scene_id>_L2A";  scene_id, datastrip_id, mission
    datetime          centre time of the scene (raw centre_utc); start_utc, end_utc
    proj:code         "EPSG:326NN" (UTM zone of the scene centre; Vietnam: 32648 or 32649)
    grids             {ms: GRID, pan: GRID}, GRID = {proj:code, epsg, shape [rows, cols],
                       transform [a, b, c, d, e, f] (rasterio order), resolution_m, bbox (UTM)}
                      ms is 10 m, pan 2.5 m over the same extent (pan = ms subdivided 4 × 4)
    footprint         GeoJSON (Multi)Polygon of the VALID pixels (not the bounding box),
                      from the valid mask of the ms grid, simplified by one pixel, EPSG:4326
    bbox              [west, south, east, north] of the footprint
    bands[]           in CPF order: name, common_name, center_wavelength_um,
                      full_width_half_max_um, esun_w_m2_um, file "<band>.tif",
                      scale 1e-4, offset 0, nodata 0, data_type "uint16", units "1",
                      (reflectance = count · scale + offset: the numbers in the COG),
                      resolution_m, grid "ms" | "pan", qa {file, band},
                      rpc (the RPC00B model used, after refinement; GDAL key names)
    qa                {files [{file, bands[], resolution_m}], data_type, bits {position: meaning},
                       overview_resampling "mode", terrain_occlusion {computed, percent_of_valid
                       {band: %} | reason, method}}: bits as the raw level, plus 5 terrain
                      occlusion (with a DEM: rsarchive.geometry.occlusion), 6 cloud; bit 0 outside the image
    thumbnail         {file "thumbnail.png", media_type, shape, bands [red, green, blue, alpha], stretch}
                      or null (no true-colour bands)
    view              at the scene centre: sun_azimuth, sun_elevation (°), off_nadir,
                      incidence_angle, azimuth (satellite seen from the ground; null at nadir),
                      centre_lat, centre_lon, at_utc
    sun               {earth_sun_distance_au, zenith: how the per-pixel zenith was computed}
    cloud             {eo:cloud_cover (% of the pixels where blue, green, red and NIR all have data), class "A" | "B" | "C" (Circular 10/2015: A < 10 %,
                       B 10–25 %, C ≥ 25 %), class_scheme, method, thresholds}
    eo:cloud_cover    the same percentage (null when the cloud mask could not be computed)
    geometry          {method, resampling {bands, qa}, refinement REFINEMENT, dem DEM}
    refinement        "REFINED" | "NOT_REFINED"
    accuracy          ACCURACY (below)
    degraded          true when ancillary was interpolated over a gap (lines flagged QA bit 4)
    degraded_lines    {band: lines with QA bit 4}
    warnings[]        e.g. DEM not covering the scene, not refined (why), degraded ancillary
    lineage           {raw_scene_id, raw_dir, cpf_version, downlink_sha256, dem, reference,
                       software {rsarchive, gdal}}
    created_utc

    REFINEMENT = {status, correction "none" | "bias" | "affine", image_affine [[a, b, c], [d, e, f]]
                  (line' = a·line + b·sample + c; sample' = d·line + e·sample + f, applied after the
                  RPC of the matched band), gcps, rejected, reason}
    DEM        = {used: false} | {used: true, file, coverage_percent, height_range_m, missing_value_m 0,
                  warning (when coverage < 100 %)}
    ACCURACY   = {reference {kind "orthoimage", file} | {kind "none", note},
                  geolocation STATS | null (no reference),   (after refinement when refined)
                  before_refinement STATS | null,
                  band_to_band {reference_band, method, bands {name: {count, rejected, shift_px
                                [east, north], rms_px, rms_m, ce90_px, ce90_m}}, max_rms_px},
                  rpc_fit {band: {rms_px, max_px, check_rms_px, check_max_px, nodes, height_range_m}},
                  bands {band: {absolute {rmse_m, ce90_m, rmse_px, ce90_px, count, rejected, pixel_m,
                                mean_east_m, mean_north_m, method} | null (no reference orthoimage),
                                relative {rmse_m, ce90_m, count, against | note} | null}},
                  dem DEM, degraded, warnings[]}
    STATS      = {count, rejected, rmse_m, rmse_px, ce90_m, ce90_px, mean_east_m, mean_north_m,
                  max_m, pixel_m, method}  (displacement of the product from the reference;
                  pixels of the 10 m grid; CE90 = 90th percentile of radial errors)
"""

from __future__ import annotations

__all__ = ["PRODUCT_FORMAT"]

PRODUCT_FORMAT = "rsarchive-product/1"
