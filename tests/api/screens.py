"""What a headless Chromium page shows, as pixels (issue #21): a screenshot cut to an element's box, and
whether it shows a given image (the thumbnail the API serves) or a map layer's colours.

The expected pixels always come from what the server answers (the thumbnail file, the tiles), never
from the code that made them; the screenshot is compared with them by correlation and mean difference
after scaling the expected image to the size the page draws it."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from PIL import Image


def screenshot(driver: Any) -> np.ndarray:
    """The page's viewport as an RGB array (device pixels)."""
    return np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB"))


def element_box(driver: Any, element: Any) -> tuple[int, int, int, int]:
    """The element's box in the screenshot (device pixels): left, top, right, bottom; scrolled into view first."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", element)
    left, top, width, height, ratio = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return [r.left, r.top, r.width, r.height, window.devicePixelRatio];", element)
    return (round(left * ratio), round(top * ratio), round((left + width) * ratio), round((top + height) * ratio))


def drawn_image_box(driver: Any, image: Any) -> tuple[int, int, int, int]:
    """Where an ``<img>`` draws its picture in the screenshot: its box, less the margins of
    ``object-fit: contain`` / ``scale-down`` (the picture keeps its proportions inside the box)."""
    left, top, right, bottom = element_box(driver, image)
    fit, natural_w, natural_h = driver.execute_script(
        "const i = arguments[0]; return [getComputedStyle(i).objectFit, i.naturalWidth, i.naturalHeight];", image)
    if fit in ("contain", "scale-down") and natural_w and natural_h:
        width, height = right - left, bottom - top
        scale = min(width / natural_w, height / natural_h, 1.0 if fit == "scale-down" else float("inf"))
        w, h = round(natural_w * scale), round(natural_h * scale)
        left, top = left + (width - w) // 2, top + (height - h) // 2
        right, bottom = left + w, top + h
    return left, top, right, bottom


@dataclass(frozen=True)
class Likeness:
    correlation: float     # of the grey levels, -1 … 1
    mean_difference: float  # mean absolute difference per channel, 0 … 255

    def shows(self) -> bool:
        """The screenshot shows the image (allowing for the browser's resampling and colour handling)."""
        return self.correlation >= 0.9 and self.mean_difference <= 24


def likeness(shown: np.ndarray, expected_png: bytes) -> Likeness:
    """How much the pixels ``shown`` (RGB) look like the image ``expected_png`` scaled to their size."""
    expected = Image.open(io.BytesIO(expected_png)).convert("RGBA")
    flat = Image.new("RGBA", expected.size, (255, 255, 255, 255))  # transparent parts drawn on white
    flat.alpha_composite(expected)
    scaled = np.asarray(flat.convert("RGB").resize((shown.shape[1], shown.shape[0]), Image.Resampling.BILINEAR))
    a, b = shown.astype(float), scaled.astype(float)
    ga, gb = a.mean(axis=2).ravel(), b.mean(axis=2).ravel()
    correlation = float(np.corrcoef(ga, gb)[0, 1]) if ga.std() > 0 and gb.std() > 0 else 0.0
    return Likeness(correlation, float(np.abs(a - b).mean()))


def crop(shot: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    left, top, right, bottom = box
    return shot[max(top, 0):bottom, max(left, 0):right]


def quantised(rgb: np.ndarray, step: int = 16) -> np.ndarray:
    """Colours as one integer each, every channel cut to ``256 / step`` levels."""
    q = (rgb.reshape(-1, 3) // step).astype(np.int64)
    levels = 256 // step
    return (q[:, 0] * levels + q[:, 1]) * levels + q[:, 2]


def palette(tiles_rgba: list[np.ndarray], step: int = 16) -> set[int]:
    """The (quantised) colours of the opaque pixels of some tiles, and their neighbouring levels
    (a colour drawn scaled or blended lands one level off)."""
    levels = 256 // step
    colours: set[int] = set()
    for tile in tiles_rgba:
        opaque = tile[..., :3][tile[..., 3] == 255]
        if opaque.size:
            q = np.unique((opaque // step).astype(np.int64), axis=0)
            for dr in (-1, 0, 1):
                for dg in (-1, 0, 1):
                    for db in (-1, 0, 1):
                        moved = np.clip(q + (dr, dg, db), 0, levels - 1)
                        colours.update(((moved[:, 0] * levels + moved[:, 1]) * levels + moved[:, 2]).tolist())
    return colours


def thumbnail_likeness(driver: Any, url: str, tab: str = "Ảnh thu nhỏ") -> tuple[Likeness, Likeness]:
    """How much the page's picture of the thumbnail at ``url`` looks like the file the API serves there,
    and (a control) like the same file upside down."""
    expected = httpx.get(url)
    assert expected.status_code == 200 and expected.headers["content-type"].startswith("image/"), expected
    driver.find_element("xpath", f"//a[@role='tab' and normalize-space()='{tab}']").click()
    time.sleep(0.5)   # the tab's transition
    images = [i for i in driver.find_elements("tag name", "img") if i.get_attribute("src") == url]
    assert images, [i.get_attribute("src") for i in driver.find_elements("tag name", "img")]
    boxes = [drawn_image_box(driver, image) for image in images]   # the one drawn largest (others may be hidden)
    box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    assert box[2] - box[0] >= 16 and box[3] - box[1] >= 16, boxes   # drawn, not a dot
    shown = crop(screenshot(driver), box)
    flipped = io.BytesIO()
    Image.open(io.BytesIO(expected.content)).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(flipped, "PNG")
    return likeness(shown, expected.content), likeness(shown, flipped.getvalue())
