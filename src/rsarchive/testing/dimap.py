"""A small DIMAP V2 product (the layout of Airbus SPOT 6/7 and Pléiades deliveries), for tests,
benchmarks and the demo: ``DIM_<MISSION>_MS_<id>.XML`` + one band-composite GeoTIFF image.

The values are the test's own (not a real product): 4 bands B0–B3 whose pixel values encode
band, row and column, a map grid in UTM 48N over Hanoi, angles and cover figures given below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DimapSpec", "write_dimap_product"]


@dataclass(frozen=True)
class DimapSpec:
    mission: str = "SPOT"
    mission_index: str = "7"
    level: str = "ORTHO"
    time: str = "2026-03-14T03:21:45.5Z"
    cloud: float = 7.5
    sun_azimuth: float = 135.25
    sun_elevation: float = 52.75
    incidence: float = 12.5
    size: int = 256
    pixel: float = 6.0
    ulx: float = 580000.0
    uly: float = 2330000.0
    epsg: int = 32648
    gains: tuple[float, ...] = (9.71, 10.45, 11.21, 15.5)


_RANGES = ((0.455, 0.525), (0.530, 0.590), (0.625, 0.695), (0.760, 0.890))


def band_values(spec: DimapSpec) -> np.ndarray:
    """The image: band b, row r, col c = 1000*(b+1) + (r + c) % 1000 (uint16; 0 stays nodata)."""
    rows, cols = np.indices((spec.size, spec.size))
    return np.stack([(1000 * (b + 1) + (rows + cols) % 1000).astype("uint16") for b in range(4)])


def _corners(spec: DimapSpec) -> list[tuple[float, float]]:
    from pyproj import Transformer

    to_ll = Transformer.from_crs(spec.epsg, 4326, always_xy=True)
    extent = spec.size * spec.pixel
    xs = (spec.ulx, spec.ulx + extent, spec.ulx + extent, spec.ulx)
    ys = (spec.uly, spec.uly, spec.uly - extent, spec.uly - extent)
    return [to_ll.transform(x, y) for x, y in zip(xs, ys, strict=True)]


def write_dimap_product(folder: Path, spec: DimapSpec = DimapSpec()) -> Path:
    """Write the product in ``folder`` (created); returns ``folder``."""
    import rasterio
    from rasterio.transform import from_origin

    folder.mkdir(parents=True, exist_ok=True)
    name = f"{spec.mission}{spec.mission_index}_MS_001"
    image = f"IMG_{name}_R1C1.TIF"
    with rasterio.open(folder / image, "w", driver="GTiff", width=spec.size, height=spec.size, count=4,
                       dtype="uint16", crs=f"EPSG:{spec.epsg}", nodata=0,
                       transform=from_origin(spec.ulx, spec.uly, spec.pixel, spec.pixel)) as dst:
        dst.write(band_values(spec))
    corners = _corners(spec)
    centre = (sum(c[0] for c in corners) / 4, sum(c[1] for c in corners) / 4)
    vertices = "".join(f"<Vertex><LON>{lon:.8f}</LON><LAT>{lat:.8f}</LAT></Vertex>" for lon, lat in corners)
    bands = "".join(
        f"<Band_Radiance><BAND_ID>B{i}</BAND_ID><MEASURE_UNIT>W/m2/sr/um</MEASURE_UNIT><GAIN>{g}</GAIN>"
        f"<BIAS>0</BIAS></Band_Radiance><Band_Spectral_Range><BAND_ID>B{i}</BAND_ID>"
        f"<MEASURE_UNIT>micrometer</MEASURE_UNIT><MIN>{lo}</MIN><MAX>{hi}</MAX></Band_Spectral_Range>"
        for i, (g, (lo, hi)) in enumerate(zip(spec.gains, _RANGES, strict=True)))
    descriptions = "".join(f"<Raster_Band_Description><BAND_ID>B{i}</BAND_ID></Raster_Band_Description>"
                           for i in range(4))
    date, time = spec.time.rstrip("Z").split("T")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document name="DIM_{name}.XML">
 <Metadata_Identification>
  <METADATA_FORMAT version="2.0">DIMAP</METADATA_FORMAT>
  <METADATA_PROFILE>S{spec.mission_index}_{spec.level}</METADATA_PROFILE>
  <METADATA_SUBPROFILE>PRODUCT</METADATA_SUBPROFILE>
 </Metadata_Identification>
 <Dataset_Identification><DATASET_NAME version="1.0">DS_{name}_{date.replace('-', '')}</DATASET_NAME></Dataset_Identification>
 <Dataset_Content>
  <CLOUD_COVERAGE unit="percent">{spec.cloud}</CLOUD_COVERAGE>
  <SNOW_COVERAGE unit="percent">0</SNOW_COVERAGE>
  <Dataset_Extent><EXTENT_TYPE>Polygon</EXTENT_TYPE>{vertices}
   <Center><LON>{centre[0]:.8f}</LON><LAT>{centre[1]:.8f}</LAT></Center></Dataset_Extent>
 </Dataset_Content>
 <Coordinate_Reference_System><Projected_CRS><PROJECTED_CRS_CODE>urn:ogc:def:crs:EPSG::{spec.epsg}</PROJECTED_CRS_CODE></Projected_CRS></Coordinate_Reference_System>
 <Geoposition><Geoposition_Insert><ULXMAP>{spec.ulx}</ULXMAP><ULYMAP>{spec.uly}</ULYMAP><XDIM>{spec.pixel}</XDIM><YDIM>{spec.pixel}</YDIM></Geoposition_Insert></Geoposition>
 <Processing_Information><Product_Settings><PROCESSING_LEVEL>{spec.level}</PROCESSING_LEVEL></Product_Settings></Processing_Information>
 <Raster_Data>
  <Data_Access><DATA_FILE_ORGANISATION>BAND_COMPOSITE</DATA_FILE_ORGANISATION><DATA_FILE_FORMAT>image/tiff</DATA_FILE_FORMAT>
   <Data_Files><Data_File tile_R="1" tile_C="1"><DATA_FILE_PATH href="{image}"/></Data_File></Data_Files></Data_Access>
  <Raster_Dimensions><NROWS>{spec.size}</NROWS><NCOLS>{spec.size}</NCOLS><NBANDS>4</NBANDS></Raster_Dimensions>
  <Raster_Encoding><DATA_TYPE>INTEGER</DATA_TYPE><NBITS>16</NBITS><SIGN>UNSIGNED</SIGN></Raster_Encoding>
  {descriptions}
 </Raster_Data>
 <Radiometric_Data><Radiometric_Processing><RADIOMETRIC_PROCESSING>BASIC</RADIOMETRIC_PROCESSING></Radiometric_Processing>
  <Radiometric_Calibration><Instrument_Calibration><Band_Measurement_List>{bands}</Band_Measurement_List></Instrument_Calibration></Radiometric_Calibration>
 </Radiometric_Data>
 <Geometric_Data><Use_Area><Located_Geometric_Values><TIME>{spec.time}</TIME><LOCATION_TYPE>Center</LOCATION_TYPE>
  <Acquisition_Angles><INCIDENCE_ANGLE>{spec.incidence}</INCIDENCE_ANGLE><AZIMUTH_ANGLE>100.5</AZIMUTH_ANGLE><VIEWING_ANGLE>11.0</VIEWING_ANGLE></Acquisition_Angles>
  <Solar_Incidences><SUN_AZIMUTH>{spec.sun_azimuth}</SUN_AZIMUTH><SUN_ELEVATION>{spec.sun_elevation}</SUN_ELEVATION></Solar_Incidences>
 </Located_Geometric_Values></Use_Area></Geometric_Data>
 <Quality_Assessment><Quality_Parameter><QUALITY_PARAMETER_CODE>SPOT:PLANIMETRIC_ACCURACY_CE90</QUALITY_PARAMETER_CODE><QUALITY_PARAMETER_VALUE>10</QUALITY_PARAMETER_VALUE></Quality_Parameter></Quality_Assessment>
 <Dataset_Sources><Source_Identification><Strip_Source><MISSION>{spec.mission}</MISSION><MISSION_INDEX>{spec.mission_index}</MISSION_INDEX>
  <INSTRUMENT>NAOMI</INSTRUMENT><IMAGING_DATE>{date}</IMAGING_DATE><IMAGING_TIME>{time}</IMAGING_TIME></Strip_Source></Source_Identification></Dataset_Sources>
</Dimap_Document>
"""
    (folder / f"DIM_{name}.XML").write_text(xml, encoding="utf-8")
    return folder
