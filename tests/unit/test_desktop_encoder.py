"""The per-rectangle browser encoder (``jumpoint.desktop``) on synthetic numpy frames."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image as PILImage

from jumpoint.core.desktop import (
    Clipboard,
    CopyRect,
    CursorShape,
    Damage,
    DesktopOutput,
    DesktopSize,
    FrameEnd,
    Image,
    Quality,
)
from jumpoint.core.wire import MAX_PAYLOAD
from jumpoint.desktop import IMAGE_BUDGET, FrameEncoder
from jumpoint.desktop.classify import analyse
from jumpoint.desktop.damage import TILE

Pixels = npt.NDArray[np.uint8]
W, H = 640, 480


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Desktop:
    """A framebuffer the tests draw into, and the pixel reader over it."""

    def __init__(self, width: int = W, height: int = H) -> None:
        self.pixels = np.zeros((height, width, 4), np.uint8)
        self.pixels[:, :, 3] = 255

    def read(self, x: int, y: int, w: int, h: int) -> bytes:
        return self.pixels[y : y + h, x : x + w].tobytes()


def text_like(h: int, w: int, seed: int = 0) -> Pixels:
    """Two colours in a glyph-like pattern (what an xterm shows)."""
    rng = np.random.default_rng(seed)
    glyphs = rng.random((-(-h // 13), -(-w // 6))) < 0.5
    on = np.repeat(np.repeat(glyphs, 13, 0), 6, 1)[:h, :w] & (rng.random((h, w)) < 0.4)
    out = np.empty((h, w, 4), np.uint8)
    out[:] = (20, 20, 30, 255)
    out[on] = (230, 230, 210, 255)
    return out


def photo_like(h: int, w: int, seed: int = 0) -> Pixels:
    """Smooth gradients plus noise: every pixel differs from its neighbour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([128 + 90 * np.sin(xx / 29 + seed), 128 + 90 * np.cos(yy / 17), 128 + 60 * np.sin((xx + yy) / 41)])
    rgb = rgb.transpose(1, 2, 0) + rng.normal(0, 8, (h, w, 3))
    out = np.full((h, w, 4), 255, np.uint8)
    out[:, :, :3] = np.clip(rgb, 0, 255)
    return out


def noise(h: int, w: int, seed: int = 0) -> Pixels:
    out = np.random.default_rng(seed).integers(0, 256, (h, w, 4), np.uint8)
    out[:, :, 3] = 255
    return out


def decode(image: Image) -> Pixels:
    with PILImage.open(io.BytesIO(image.data)) as pil:
        assert pil.size == (image.width, image.height)
        return np.asarray(pil.convert("RGBA"))


def paint(events: Sequence[DesktopOutput], canvas: Pixels) -> None:
    """What a browser canvas does with the events."""
    for event in events:
        if isinstance(event, Image):
            canvas[event.y : event.y + event.height, event.x : event.x + event.width] = decode(event)
        elif isinstance(event, CopyRect):
            src = canvas[event.src_y : event.src_y + event.height, event.src_x : event.src_x + event.width].copy()
            canvas[event.y : event.y + event.height, event.x : event.x + event.width] = src


def images(events: list[DesktopOutput]) -> list[Image]:
    return [e for e in events if isinstance(e, Image)]


def frame(encoder: FrameEncoder, desktop: Desktop, *rects: tuple[int, int, int, int]) -> list[DesktopOutput]:
    return encoder.encode([*(Damage(*r) for r in rects), FrameEnd()], desktop.read)


def make(level: str = "full_color", **options: object) -> tuple[FrameEncoder, Desktop, Clock]:
    clock = Clock()
    encoder = FrameEncoder(Quality(level), width=W, height=H, clock=clock, **options)  # type: ignore[arg-type]
    return encoder, Desktop(), clock


# --- classification and codecs ---------------------------------------------------------------------------------
def test_text_like_rectangles_become_exact_palette_pngs() -> None:
    encoder, desktop, _ = make()
    desktop.pixels[:256, :256] = text_like(256, 256)
    out = frame(encoder, desktop, (0, 0, 256, 256))
    [image] = images(out)
    assert image.codec == "png"
    with PILImage.open(io.BytesIO(image.data)) as pil:
        assert pil.mode in ("P", "1")
    assert np.array_equal(decode(image), desktop.pixels[:256, :256])
    assert len(image.data) < 8 * 1024


def test_photo_like_rectangles_become_jpeg_at_more_colors_and_lossless_webp_at_full_color() -> None:
    for level, codec in (("more_colors", "jpeg"), ("full_color", "webp")):
        encoder, desktop, _ = make(level)
        desktop.pixels[:256, :256] = photo_like(256, 256)
        out = images(frame(encoder, desktop, (0, 0, 256, 256)))
        assert {i.codec for i in out} == {codec}, level
        canvas = np.zeros_like(desktop.pixels)
        paint(list(out), canvas)
        error = np.abs(canvas[:256, :256].astype(int) - desktop.pixels[:256, :256]).mean()
        assert error == 0 if codec == "webp" else error < 8


def test_flat_many_colour_content_stays_lossless() -> None:
    cells = np.random.default_rng(1).integers(0, 256, (20, 22, 4), np.uint8)
    cells[:, :, 3] = 255
    flat = np.ascontiguousarray(np.repeat(np.repeat(cells, 13, 0), 12, 1)[:256, :256])
    assert analyse(flat).kind == "flat"
    for level in ("full_color", "more_colors"):
        encoder, desktop, _ = make(level)
        desktop.pixels[:256, :256] = flat
        [image] = images(frame(encoder, desktop, (0, 0, 256, 256)))
        assert image.codec == "webp"
        assert np.array_equal(decode(image), flat)


def test_classification_of_the_kinds() -> None:
    assert analyse(text_like(64, 64)).kind == "text"
    assert analyse(noise(64, 64)).kind == "photo"
    assert analyse(photo_like(128, 128)).kind == "photo"
    solid = np.full((32, 32, 4), 7, np.uint8)
    result = analyse(solid)
    assert result.kind == "text"
    assert result.palette is not None
    assert len(result.palette) == 1


# --- damage merging and tiling ---------------------------------------------------------------------------------
def test_overlapping_and_adjacent_damage_is_coalesced() -> None:
    encoder, desktop, _ = make()
    desktop.pixels[:] = text_like(H, W)
    out = frame(encoder, desktop, (10, 10, 50, 20), (40, 15, 60, 30), (100, 10, 20, 20))
    [image] = images(out)
    assert (image.x, image.y) == (0, 0)
    assert image.x + image.width >= 120
    assert image.y + image.height >= 45


def test_many_small_rectangles_become_at_most_one_image_per_tile_covering_all_damage() -> None:
    encoder, desktop, _ = make()
    desktop.pixels[:] = text_like(H, W, seed=3)
    rng = np.random.default_rng(5)
    rects = [
        (int(x), int(y), 7, 13) for x, y in zip(rng.integers(0, W - 7, 500), rng.integers(0, H - 13, 500), strict=True)
    ]
    out = frame(encoder, desktop, *rects)
    pictures = images(out)
    tiles = -(-W // TILE) * -(-H // TILE)
    assert len(pictures) <= tiles
    covered = np.zeros((H, W), bool)
    for image in pictures:
        covered[image.y : image.y + image.height, image.x : image.x + image.width] = True
    for x, y, w, h in rects:
        assert covered[y : y + h, x : x + w].all()
    canvas = desktop.pixels.copy()
    canvas[:] = 0
    paint(out, canvas)
    assert np.array_equal(canvas[covered], desktop.pixels[covered])
    assert isinstance(out[-1], FrameEnd)


def test_a_huge_rectangle_is_tiled_and_every_image_fits_the_payload_cap() -> None:
    encoder, desktop, _ = make("full_color")
    desktop.pixels[:] = noise(H, W)
    out = frame(encoder, desktop, (0, 0, W, H))
    pictures = images(out)
    assert IMAGE_BUDGET < MAX_PAYLOAD
    assert all(len(i.data) <= IMAGE_BUDGET for i in pictures)
    assert all(i.width <= TILE and i.height <= TILE for i in pictures)
    assert encoder.stats.split_images > 0  # lossless noise: 256x256 is ~190 KiB
    canvas = np.zeros_like(desktop.pixels)
    paint(out, canvas)
    assert np.array_equal(canvas, desktop.pixels)
    area = sum(i.width * i.height for i in pictures)
    assert area == W * H  # no overlap, no gap


def test_a_smaller_byte_budget_is_honoured_by_jpeg_too() -> None:
    encoder, desktop, _ = make("video", max_bytes=16 * 1024)
    desktop.pixels[:] = noise(H, W, seed=2)
    pictures = images(frame(encoder, desktop, (0, 0, W, H)))
    assert {i.codec for i in pictures} == {"jpeg"}
    assert all(len(i.data) <= 16 * 1024 for i in pictures)
    assert sum(i.width * i.height for i in pictures) == W * H


# --- fast-changing regions -------------------------------------------------------------------------------------
def test_a_fast_changing_region_switches_to_jpeg_and_gets_a_lossless_refresh_when_it_settles() -> None:
    encoder, desktop, clock = make("full_color", fast_after=3, fast_gap=0.25, settle_after=0.3)
    codecs = []
    for n in range(5):
        desktop.pixels[:128, :128] = photo_like(128, 128, seed=n)
        [image] = images(frame(encoder, desktop, (0, 0, 128, 128)))
        codecs.append(image.codec)
        clock.now += 0.04
    assert codecs == ["webp", "webp", "jpeg", "jpeg", "jpeg"]
    assert encoder.stats.fast_jpeg_images == 3
    due = encoder.refresh_due_in
    assert due is not None
    assert 0 < due <= 0.3
    # another region changes before the settle time: no refresh yet
    desktop.pixels[300:316, 300:316] = 255
    assert [i.y for i in images(frame(encoder, desktop, (300, 300, 16, 16)))] == [288]
    clock.now += 0.5
    # the next frame, elsewhere, carries the refresh of the settled region
    out = frame(encoder, desktop, (400, 400, 16, 16))
    refreshed = [i for i in images(out) if i.x < 128 and i.y < 128]
    assert refreshed
    assert {i.codec for i in refreshed} == {"webp"}
    assert isinstance(out[-1], FrameEnd)
    canvas = np.zeros_like(desktop.pixels)
    paint(refreshed, canvas)
    assert np.array_equal(canvas[:128, :128], desktop.pixels[:128, :128])
    assert encoder.stats.refresh_images == len(refreshed)
    assert encoder.refresh_due_in is None
    # slow changes again: lossless straight away
    desktop.pixels[:128, :128] = photo_like(128, 128, seed=9)
    assert {i.codec for i in images(frame(encoder, desktop, (0, 0, 128, 128)))} == {"webp"}


def test_idle_refreshes_a_settled_region_without_a_frame() -> None:
    encoder, desktop, clock = make("full_color")
    for n in range(4):
        desktop.pixels[:64, :64] = photo_like(64, 64, seed=n)
        frame(encoder, desktop, (0, 0, 64, 64))
        clock.now += 0.05
    assert encoder.idle(desktop.read) == []  # not settled yet
    clock.now += 1
    out = encoder.idle(desktop.read)
    assert [type(e) for e in out] == [Image, FrameEnd]
    refresh = out[0]
    assert isinstance(refresh, Image)
    assert refresh.codec == "webp"
    assert np.array_equal(decode(refresh), desktop.pixels[:64, :64])
    assert encoder.idle(desktop.read) == []


def test_text_stays_lossless_even_when_it_changes_fast() -> None:
    encoder, desktop, clock = make("full_color")
    for n in range(6):
        desktop.pixels[:256, :256] = text_like(256, 256, seed=n)
        assert {i.codec for i in images(frame(encoder, desktop, (0, 0, 256, 256)))} == {"png"}
        clock.now += 0.03
    assert encoder.refresh_due_in is None


def test_slow_changes_never_count_as_fast() -> None:
    encoder, desktop, clock = make("full_color")
    for n in range(6):
        desktop.pixels[:64, :64] = photo_like(64, 64, seed=n)
        assert {i.codec for i in images(frame(encoder, desktop, (0, 0, 64, 64)))} == {"webp"}
        clock.now += 0.5


# --- passthrough and order -------------------------------------------------------------------------------------
def jpeg_of(pixels: Pixels, quality: int = 75) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels[:, :, :3])).save(out, "JPEG", quality=quality)
    return out.getvalue()


def test_jpeg_passes_through_untouched_and_the_order_is_kept() -> None:
    encoder, desktop, _ = make("full_color")
    desktop.pixels[:] = text_like(H, W)
    jpeg = Image(300, 200, 64, 48, "jpeg", jpeg_of(photo_like(48, 64)))
    cursor = CursorShape(1, 1, 2, 2, bytes(16))
    events: list[DesktopOutput] = [
        DesktopSize(W, H),
        CursorShape(0, 0, 0, 0, b""),
        Damage(0, 0, 30, 30),
        jpeg,
        CopyRect(300, 300, 400, 400, 32, 32),
        Clipboard("hello"),
        cursor,
        FrameEnd(),
    ]
    out = encoder.encode(events, desktop.read)
    assert out[:6] == [events[0], events[1], jpeg, events[4], events[5], cursor]
    assert out[2] is jpeg
    assert isinstance(out[6], Image)
    assert out[6].codec == "png"
    assert out[-1] == FrameEnd()
    assert len(out) == 8
    assert encoder.stats.passthrough_images == 1


def test_an_oversized_jpeg_is_re_tiled_under_the_cap() -> None:
    encoder, desktop, _ = make("more_colors", max_bytes=16 * 1024)
    source = noise(256, 320, seed=4)
    big = Image(0, 0, 320, 256, "jpeg", jpeg_of(source, 95))
    assert len(big.data) > 16 * 1024
    out = encoder.encode([big, FrameEnd()], desktop.read)
    pictures = images(out)
    assert len(pictures) > 1
    assert all(i.codec == "jpeg" and len(i.data) <= 16 * 1024 for i in pictures)
    assert sum(i.width * i.height for i in pictures) == 320 * 256


def test_raw_rgba_images_are_encoded_in_place() -> None:
    encoder, desktop, _ = make()
    pixels = text_like(40, 50)
    out = encoder.encode([Image(5, 6, 50, 40, "rgba", pixels.tobytes()), Clipboard("x"), FrameEnd()], desktop.read)
    assert [type(e) for e in out] == [Image, Clipboard, FrameEnd]
    image = out[0]
    assert isinstance(image, Image)
    assert image.codec == "png"
    assert (image.x, image.y, image.width, image.height) == (5, 6, 50, 40)
    assert np.array_equal(decode(image), pixels)


def test_a_copy_from_freshly_damaged_pixels_resends_its_destination() -> None:
    encoder, desktop, _ = make()
    desktop.pixels[:] = text_like(H, W, seed=7)
    before = desktop.pixels.copy()
    desktop.pixels[0:32, 0:32] = text_like(32, 32, seed=8)
    desktop.pixels[320:352, 320:352] = desktop.pixels[0:32, 0:32]
    events: list[DesktopOutput] = [Damage(0, 0, 32, 32), CopyRect(0, 0, 320, 320, 32, 32), FrameEnd()]
    out = encoder.encode(events, desktop.read)
    canvas = before.copy()
    paint(out, canvas)
    assert np.array_equal(canvas, desktop.pixels)
    assert any(i.x <= 320 and i.y <= 320 and i.x + i.width >= 352 for i in images(out))


def test_a_desktop_size_resets_the_state_and_drops_earlier_damage() -> None:
    encoder, desktop, clock = make("full_color")
    for n in range(4):
        desktop.pixels[:64, :64] = photo_like(64, 64, seed=n)
        frame(encoder, desktop, (0, 0, 64, 64))
        clock.now += 0.05
    assert encoder.refresh_due_in is not None
    small = Desktop(320, 200)
    out = encoder.encode([Damage(0, 0, 600, 400), DesktopSize(320, 200), Damage(0, 0, 16, 16), FrameEnd()], small.read)
    assert out[0] == DesktopSize(320, 200)
    assert [(i.x, i.y, i.width, i.height) for i in images(out)] == [(0, 0, 16, 16)]
    assert encoder.size == (320, 200)
    assert encoder.refresh_due_in is None


def test_damage_before_any_size_is_refused() -> None:
    encoder = FrameEncoder()
    with pytest.raises(ValueError, match="DesktopSize"):
        encoder.encode([Damage(0, 0, 4, 4), FrameEnd()], Desktop().read)


def test_a_pixel_reader_returning_the_wrong_size_is_refused() -> None:
    encoder, _, _ = make()
    with pytest.raises(ValueError, match="pixel reader"):
        encoder.encode([Damage(0, 0, 4, 4), FrameEnd()], lambda x, y, w, h: b"\0" * 12)


# --- keyframes -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(640, 480), (1000, 333), (100, 50)])
def test_a_keyframe_covers_the_desktop_exactly_once(size: tuple[int, int]) -> None:
    width, height = size
    encoder = FrameEncoder(width=width, height=height)
    desktop = Desktop(width, height)
    desktop.pixels[:] = text_like(height, width)
    desktop.pixels[: height // 2, : width // 2] = photo_like(height // 2, width // 2)
    cursor = CursorShape(0, 0, 1, 1, bytes(4))
    encoder.encode([cursor, FrameEnd()], desktop.read)
    out = encoder.keyframe(width, height, desktop.read)
    assert out[0] == DesktopSize(width, height)
    assert out[-2:] == [cursor, FrameEnd()]
    count = np.zeros((height, width), int)
    for image in images(out):
        count[image.y : image.y + image.height, image.x : image.x + image.width] += 1
        assert len(image.data) <= IMAGE_BUDGET
    assert (count == 1).all()
    canvas = np.zeros_like(desktop.pixels)
    paint(out, canvas)
    assert np.array_equal(canvas, desktop.pixels)  # full_color: all lossless while nothing moves
    assert encoder.stats.keyframes == 1


def test_a_keyframe_does_not_change_the_stream_state() -> None:
    encoder, desktop, clock = make("full_color")
    for n in range(4):
        desktop.pixels[:256, :256] = photo_like(256, 256, seed=n)
        frame(encoder, desktop, (0, 0, 256, 256))
        clock.now += 0.05
    due = encoder.refresh_due_in
    out = encoder.keyframe(W, H, desktop.read)
    assert {i.codec for i in images(out) if i.x < 256 and i.y < 256} == {"jpeg"}  # the region is fast right now
    assert {i.codec for i in images(out) if i.x >= 256} == {"png"}
    assert encoder.refresh_due_in == due


# --- quality levels --------------------------------------------------------------------------------------------
def test_black_and_white_sends_one_bit_pngs() -> None:
    encoder, desktop, _ = make("black_and_white")
    desktop.pixels[:128, :128] = photo_like(128, 128)
    [image] = images(frame(encoder, desktop, (0, 0, 128, 128)))
    assert image.codec == "png"
    with PILImage.open(io.BytesIO(image.data)) as pil:
        assert pil.mode == "1"
    assert set(np.unique(decode(image)[:, :, :3])) <= {0, 255}


def test_few_colors_reduces_many_colours_to_the_332_palette() -> None:
    encoder, desktop, _ = make("few_colors")
    desktop.pixels[:128, :128] = photo_like(128, 128)
    [image] = images(frame(encoder, desktop, (0, 0, 128, 128)))
    assert image.codec == "png"
    pixels = decode(image)
    assert len(np.unique(pixels.reshape(-1, 4), axis=0)) <= 256
    assert np.abs(pixels.astype(int) - desktop.pixels[:128, :128]).max() <= 64
    desktop.pixels[140:204, 140:204] = text_like(64, 64)  # few colours already: exact
    [text] = images(frame(encoder, desktop, (140, 140, 64, 64)))
    region = desktop.pixels[text.y : text.y + text.height, text.x : text.x + text.width]
    assert np.array_equal(decode(text), region)


def test_more_colors_uses_a_lower_jpeg_quality_than_full_color_motion() -> None:
    sizes = {}
    for level in ("more_colors", "full_color"):
        encoder, desktop, clock = make(level)
        for n in range(4):
            desktop.pixels[:256, :256] = photo_like(256, 256, seed=n)
            pictures = images(frame(encoder, desktop, (0, 0, 256, 256)))
            clock.now += 0.04
        assert {i.codec for i in pictures} == {"jpeg"}
        sizes[level] = sum(len(i.data) for i in pictures)
    assert sizes["more_colors"] < sizes["full_color"] * 0.75


def test_video_sends_jpeg_everywhere_except_tiny_text() -> None:
    encoder, desktop, _ = make("video")
    desktop.pixels[:] = text_like(H, W)
    big = images(frame(encoder, desktop, (0, 0, 256, 256)))
    assert {i.codec for i in big} == {"jpeg"}
    tiny = images(frame(encoder, desktop, (300, 300, 20, 20)))
    assert {i.codec for i in tiny} == {"png"}
    desktop.pixels[:32, :32] = photo_like(32, 32)
    assert {i.codec for i in images(frame(encoder, desktop, (0, 0, 32, 32)))} == {"jpeg"}


def test_the_quality_can_change_between_frames() -> None:
    encoder, desktop, _ = make("full_color")
    desktop.pixels[:256, :256] = photo_like(256, 256)
    assert {i.codec for i in images(frame(encoder, desktop, (0, 0, 256, 256)))} == {"webp"}
    encoder.quality = Quality("video")
    assert encoder.quality == Quality("video")
    assert {i.codec for i in images(frame(encoder, desktop, (0, 0, 256, 256)))} == {"jpeg"}
