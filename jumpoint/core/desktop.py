"""The desktop event vocabulary shared by every desktop protocol (VNC, RDP).

Output events flow from the target to the people in the session; input events flow back. Coordinates are
in desktop pixels with the origin top left. One renderer (the browser canvas) and one recording format serve
every protocol of this kind. Every size is bounded here, so a malformed peer cannot make us allocate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAX_DESKTOP_SIDE = 8192
MAX_CLIPBOARD_BYTES = 1024 * 1024
MAX_CURSOR_SIDE = 256

ImageCodec = Literal["jpeg", "png", "webp", "rgba"]


def check_rect(x: int, y: int, width: int, height: int) -> None:
    """Raise ValueError unless the rectangle lies within the largest desktop allowed."""
    if x < 0 or y < 0 or width <= 0 or height <= 0:
        raise ValueError(f"rectangle {width}x{height}+{x}+{y} is empty or negative")
    if x + width > MAX_DESKTOP_SIDE or y + height > MAX_DESKTOP_SIDE:
        raise ValueError(f"rectangle {width}x{height}+{x}+{y} lies outside {MAX_DESKTOP_SIDE}x{MAX_DESKTOP_SIDE}")


@dataclass(frozen=True, slots=True)
class DesktopSize:
    """The desktop's size in pixels; as output the target's new size, as input the size the viewer asks for."""

    width: int
    height: int

    def __post_init__(self) -> None:
        if not (1 <= self.width <= MAX_DESKTOP_SIDE and 1 <= self.height <= MAX_DESKTOP_SIDE):
            raise ValueError(f"desktop size {self.width}x{self.height} is outside 1x1..{MAX_DESKTOP_SIDE}")


@dataclass(frozen=True, slots=True)
class Image:
    """Pixels for one rectangle: an encoded image (``jpeg``, ``png``, ``webp``) or raw ``rgba`` rows."""

    x: int
    y: int
    width: int
    height: int
    codec: ImageCodec
    data: bytes

    def __post_init__(self) -> None:
        check_rect(self.x, self.y, self.width, self.height)
        if self.codec == "rgba" and len(self.data) != self.width * self.height * 4:
            raise ValueError(f"rgba image {self.width}x{self.height} needs {self.width * self.height * 4} bytes")


@dataclass(frozen=True, slots=True)
class Damage:
    """A rectangle whose new pixels are in the connection's framebuffer (decoded there, not yet encoded)."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        check_rect(self.x, self.y, self.width, self.height)


@dataclass(frozen=True, slots=True)
class CopyRect:
    """Copy the ``width`` x ``height`` pixels at (``src_x``, ``src_y``) to (``x``, ``y``)."""

    src_x: int
    src_y: int
    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        check_rect(self.src_x, self.src_y, self.width, self.height)
        check_rect(self.x, self.y, self.width, self.height)


@dataclass(frozen=True, slots=True)
class FrameEnd:
    """Everything since the previous FrameEnd forms one consistent picture: a renderer may present it now."""


@dataclass(frozen=True, slots=True)
class CursorShape:
    """The pointer's shape as RGBA rows with its hot spot; an empty (0x0) cursor hides the pointer."""

    hot_x: int
    hot_y: int
    width: int
    height: int
    rgba: bytes

    def __post_init__(self) -> None:
        if not (0 <= self.width <= MAX_CURSOR_SIDE and 0 <= self.height <= MAX_CURSOR_SIDE):
            raise ValueError(f"cursor {self.width}x{self.height} is larger than {MAX_CURSOR_SIDE}")
        if len(self.rgba) != self.width * self.height * 4:
            raise ValueError("cursor pixel data does not match its size")


@dataclass(frozen=True, slots=True)
class Clipboard:
    """Clipboard text, from the target (output) or from a participant (input)."""

    text: str

    def __post_init__(self) -> None:
        if len(self.text) > MAX_CLIPBOARD_BYTES:
            raise ValueError(f"clipboard text is longer than {MAX_CLIPBOARD_BYTES} characters")


@dataclass(frozen=True, slots=True)
class Pointer:
    """The pointer position and the buttons held (bit 0 left, 1 middle, 2 right)."""

    x: int
    y: int
    buttons: int

    def __post_init__(self) -> None:
        if not (0 <= self.x < MAX_DESKTOP_SIDE and 0 <= self.y < MAX_DESKTOP_SIDE and 0 <= self.buttons < 8):
            raise ValueError("pointer position or buttons out of range")


@dataclass(frozen=True, slots=True)
class Wheel:
    """Wheel steps at the pointer: positive ``dy`` scrolls down, positive ``dx`` right."""

    x: int
    y: int
    dx: int
    dy: int

    def __post_init__(self) -> None:
        if not (-100 <= self.dx <= 100 and -100 <= self.dy <= 100):
            raise ValueError("wheel steps out of range")


@dataclass(frozen=True, slots=True)
class Key:
    """A key pressed or released: the X11 keysym, and the PC scancode when the browser knows it (RDP uses it)."""

    keysym: int
    down: bool
    scancode: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.keysym <= 0x1FFFFFFF:
            raise ValueError(f"keysym {self.keysym:#x} out of range")


@dataclass(frozen=True, slots=True)
class Refresh:
    """Ask the target for a complete picture (a viewer lost track, or a keyframe is due)."""


@dataclass(frozen=True, slots=True)
class Quality:
    """The picture quality a participant chose; the adapter maps it to encoding settings."""

    level: Literal["black_and_white", "few_colors", "more_colors", "full_color", "video"]


DesktopOutput = DesktopSize | Image | Damage | CopyRect | FrameEnd | CursorShape | Clipboard
DesktopInput = Pointer | Wheel | Key | Clipboard | Refresh | DesktopSize | Quality
