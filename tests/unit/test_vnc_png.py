"""Indexed PNGs written from a VNC palette and its packed indices: what a browser (Pillow here) decodes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from protocols.vnc.png import indexed_png, solid_png


def rgb_of(png: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def test_a_two_colour_palette_with_one_bit_indices_decodes_to_its_pixels() -> None:
    # 10 pixels a row: two bytes, the last 6 bits padding (most significant first, as Tight and PNG pack them)
    indices = bytes([0b10100000, 0b01000000, 0b11111111, 0b11000000])
    pixels = rgb_of(indexed_png(10, 2, bytes([0, 0, 0, 255, 128, 0]), indices, 1))
    assert pixels.shape == (2, 10, 3)
    expected = [[1, 0, 1, 0, 0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]
    assert (pixels[:, :, 0] == np.array(expected) * 255).all()
    assert (pixels[:, :, 1] == np.array(expected) * 128).all()


def test_a_palette_of_many_colours_with_byte_indices_decodes_to_its_pixels() -> None:
    palette = bytes(i % 251 for i in range(3 * 200))
    indices = bytes(i % 200 for i in range(7 * 3))
    pixels = rgb_of(indexed_png(7, 3, palette, indices, 8))
    table = np.frombuffer(palette, np.uint8).reshape(-1, 3)
    assert (pixels == table[np.frombuffer(indices, np.uint8).reshape(3, 7)]).all()


def test_a_solid_fill_of_the_whole_desktop_is_under_a_kilobyte() -> None:
    png = solid_png(1280, 800, bytes([12, 34, 56]))
    assert len(png) < 1024
    pixels = rgb_of(png)
    assert pixels.shape == (800, 1280, 3)
    assert (pixels == [12, 34, 56]).all()


@pytest.mark.parametrize(
    ("palette", "indices", "bits"),
    [(b"\x00\x00", bytes(2), 8), (b"\x00" * 3 * 257, bytes(2), 8), (b"\x00" * 6, bytes(3), 8), (b"\x00" * 6, b"", 1)],
)
def test_sizes_that_do_not_match_are_refused(palette: bytes, indices: bytes, bits: int) -> None:
    with pytest.raises(ValueError, match="bytes"):
        indexed_png(2, 1, palette, indices, bits)
