"""Drawing: shaped, bidi-ordered text blocks on a translucent plate, the speaker palette, face brackets.

Text goes through Pillow's libraqm layout (HarfBuzz shaping + FriBiDi), one
call per font run; runs are put in visual order here (a line may mix fonts:
Latin digits inside Arabic, say). Each block is drawn once into a small RGBA
patch (cached while the text does not change) and blended only into the part
of the frame it covers, so the cost per frame is that of the patch, not of the
frame.
"""

from __future__ import annotations

import colorsys
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, features

from ..errors import InputError
from ..scene import Scene
from . import fonts
from .layout import Cue, font_px

# Neon hues first (cyan, pink, yellow, green, orange, violet), then golden-angle steps.
_BASE = [(0, 229, 255), (255, 64, 160), (255, 221, 0), (57, 255, 20), (255, 140, 0), (190, 120, 255)]
PLATE = (8, 10, 18, 165)  # RGBA of the translucent plate behind the text
UNKNOWN = (235, 235, 235)


def color(index: int) -> tuple[int, int, int]:
    """RGB colour of speaker number `index`: distinct for any number of speakers, bright on dark."""
    if index < len(_BASE):
        return _BASE[index]
    hue = (0.5 + (index - len(_BASE)) * 0.381966) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.8, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


def speaker_colors(speakers: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    return {s: color(i) for i, s in enumerate(speakers)}


def cue_speakers(scene: Scene, cues: Sequence[Cue]) -> list[str]:
    """The scene's speakers in order, then any other speaker a cue names (sorted): the palette's order."""
    ids = [s.id for s in scene.speakers]
    return ids + sorted({c.speaker for c in cues if c.speaker and c.speaker not in ids})


def check_shaping() -> None:
    """Complex scripts need libraqm (+FriBiDi); without it Arabic would come out unjoined and reversed."""
    if not features.check("raqm"):
        raise InputError("Pillow has no libraqm: install Debian libraqm0 and libfribidi0 (scripts/debian-packages.txt)")


def _strong(text: str) -> str | None:
    for ch in text:
        b = unicodedata.bidirectional(ch)
        if b in ("R", "AL"):
            return "rtl"
        if b == "L":
            return "ltr"
    return None


@lru_cache(maxsize=4096)
def visual_runs(text: str, lang: str | None = None) -> tuple[tuple[tuple[str, fonts.FontFace, str], ...], str]:
    """(run, face, direction) in left-to-right drawing order, and the line's base direction.

    Cached: a cue's lines are measured and drawn on many frames (typing prefixes, scramble states).

    Two-level reordering (UAX #9 rules L2 for levels 0-2): runs against the base
    direction are reversed as groups; in a right-to-left line the whole
    sequence is then reversed, which keeps left-to-right groups in order.
    """
    base = _strong(text) or "ltr"
    runs = [(s, f, _strong(s) or "") for s, f in fonts.runs(text, lang)]
    # A neutral-only run takes the direction of its neighbours when they agree, else the base.
    dirs = []
    for i, (_, _, d) in enumerate(runs):
        if d:
            dirs.append(d)
            continue
        prev = next((runs[j][2] for j in range(i - 1, -1, -1) if runs[j][2]), base)
        nxt = next((runs[j][2] for j in range(i + 1, len(runs)) if runs[j][2]), base)
        dirs.append(prev if prev == nxt else base)
    items = [(s, f, d) for (s, f, _), d in zip(runs, dirs, strict=True)]
    out: list[tuple[str, fonts.FontFace, str]] = []
    group: list = []
    for item in items:
        if item[2] != base:
            group.append(item)
            continue
        out.extend(reversed(group))
        group = []
        out.append(item)
    out.extend(reversed(group))
    if base == "rtl":
        out.reverse()
    return tuple(out), base


@dataclass(frozen=True)
class Style:
    size: int

    @property
    def pad_x(self) -> int:
        return round(self.size * 0.5)

    @property
    def pad_y(self) -> int:
        return round(self.size * 0.25)

    @property
    def line_h(self) -> int:
        return round(self.size * 1.45)  # room for Devanagari/Thai marks above and below

    @property
    def tag_size(self) -> int:
        return max(10, round(self.size * 0.6))

    @property
    def tag_h(self) -> int:
        return round(self.tag_size * 1.5)

    @property
    def stroke(self) -> int:
        return max(1, round(self.size / 14))


class Renderer:
    """Draws cues onto BGR frames. One per output size; holds a small cache of drawn blocks."""

    def __init__(self, height: int, lang: str | None = None, cache_size: int = 48) -> None:
        check_shaping()
        self.style = Style(font_px(height))
        self.lang = lang
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._widths: dict[tuple[str, int], int] = {}

    # -- measuring -------------------------------------------------------

    def line_width(self, text: str, size: int | None = None) -> int:
        size = size or self.style.size
        key = (text, size)
        if key not in self._widths:
            if len(self._widths) > 4096:
                self._widths.clear()
            self._widths[key] = self._measure_width(text, size)
        return self._widths[key]

    def _measure_width(self, text: str, size: int) -> int:
        return round(sum(fonts.load(f, size).getlength(s, direction=d or None) for s, f, d in
                         visual_runs(text, self.lang)[0]))

    def measure(self, lines: Sequence[str], rows: int, tagged: bool) -> tuple[int, int]:
        """Block size in pixels for the widest of `lines`, `rows` lines high (the layout's Measure)."""
        st = self.style
        w = max((self.line_width(s) for s in lines), default=0) + 2 * st.pad_x
        h = rows * st.line_h + 2 * st.pad_y + (st.tag_h if tagged else 0)
        return w, h

    def typing(self, lines: Sequence[str], typed: Sequence[str], rgb: tuple[int, int, int], width: int,
               height: int, tag: str | None = None) -> np.ndarray:
        """The typewriter state: `typed[k]` is the typed prefix of `lines[k]` (cursor after the last one)."""
        full = self.block(lines, rgb, width, height, tag)
        plate = self.block([""] * len(lines), rgb, width, height, tag)
        return reveal(full, plate, self.typing_edges(lines, typed, width, tag), rgb, self.cursor_width)

    @property
    def cursor_width(self) -> int:
        return max(2, self.style.size // 3)

    def typing_edges(self, lines: Sequence[str], typed: Sequence[str], width: int,
                     tag: str | None = None) -> list[tuple[int, int, float, bool, bool]]:
        """`reveal`'s edges for the typed prefixes `typed` of `lines` in a block `width` wide."""
        st = self.style
        top = st.tag_h if tag else 0
        last = max((k for k, s in enumerate(typed) if s), default=0)
        edges = []
        for k, line in enumerate(lines):
            prefix = typed[k] if k < len(typed) else ""
            if not line or (not prefix and k != last):
                continue
            lw = self.line_width(line)
            rtl = visual_runs(line, self.lang)[1] == "rtl"
            pw = lw if prefix == line else self.line_width(prefix)
            x0 = (width - lw) / 2
            x = x0 + lw - pw if rtl else x0 + pw
            y0 = top + st.pad_y + k * st.line_h
            edges.append((y0, y0 + st.line_h, x, rtl, k == last))
        return edges

    # -- drawing ---------------------------------------------------------

    def _text(self, draw: ImageDraw.ImageDraw, x: float, baseline: float, text: str, size: int,
              fill: tuple, stroke: int) -> None:
        for run, face, d in visual_runs(text, self.lang)[0]:
            font = fonts.load(face, size)
            draw.text((x, baseline), run, font=font, fill=fill, anchor="ls", direction=d or None,
                      stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
            x += font.getlength(run, direction=d or None)

    def block(self, lines: Sequence[str], rgb: tuple[int, int, int], width: int, height: int,
              tag: str | None = None) -> np.ndarray:
        """RGBA patch (BGR channel order + alpha) of one cue's text block."""
        key = (tuple(lines), rgb, width, height, tag)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        st = self.style
        img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        top = 0
        if tag:
            tw = self.line_width(tag, st.tag_size) + st.pad_x
            draw.rectangle((0, 0, min(width, tw + st.pad_x) - 1, st.tag_h - 1), fill=(*rgb, 230))
            self._text(draw, st.pad_x // 2 + 2, round(st.tag_h * 0.75), tag, st.tag_size, (0, 0, 0, 255), 0)
            top = st.tag_h
        r = max(2, st.size // 6)
        draw.rounded_rectangle((0, top, width - 1, height - 1), radius=r, fill=PLATE)
        draw.rectangle((0, top, max(2, st.size // 10) - 1, height - 1), fill=(*rgb, 255))  # accent bar
        ascent = fonts.load(fonts.primary(self.lang), st.size).getmetrics()[0]
        for k, line in enumerate(lines):
            if not line:
                continue
            size = st.size
            lw = self.line_width(line)
            room = width - 2 * st.pad_x
            if lw > room > 0:  # a scrambling line can be wider than both texts: shrink, never clip
                size = max(6, int(size * room / lw))
                lw = self.line_width(line, size)
            x = (width - lw) / 2
            base = top + st.pad_y + k * st.line_h + (st.line_h - st.size) / 2 + ascent * 0.95
            self._text(draw, x, base, line, size, (*rgb, 255), st.stroke)
        arr = np.asarray(img)[:, :, [2, 1, 0, 3]].copy()
        self._cache[key] = arr
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return arr


def reveal(full: np.ndarray, plate: np.ndarray, edges: Sequence[tuple[int, int, float, bool, bool]],
           rgb: tuple[int, int, int], cursor_w: int, fill: np.ndarray | None = None) -> np.ndarray:
    """Typewriter frame from two cached patches: text shown only up to each line's edge, then a cursor.

    `edges` rows are (y0, y1, x, rtl, cursor): line band, the x where the typed
    part ends (text is kept left of x, or right of it for right-to-left lines),
    and whether the cursor stands there.
    Cropping one drawn block is much cheaper than shaping and drawing every frame. The patches may
    be in any 4-channel layout (YUVA for the renderer's YUV path): `fill` is then the cursor's pixel.
    """
    out = plate.copy()
    bgr = np.array([rgb[2], rgb[1], rgb[0], 255], np.uint8) if fill is None else fill
    for y0, y1, x, rtl, cursor in edges:
        x = round(max(0, min(full.shape[1], x)))
        if rtl:
            out[y0:y1, x:] = full[y0:y1, x:]
            c0, c1 = x - cursor_w, x
        else:
            out[y0:y1, :x] = full[y0:y1, :x]
            c0, c1 = x, x + cursor_w
        c0, c1 = max(0, c0), min(out.shape[1], c1)
        if cursor and c1 > c0:
            pad = (y1 - y0) // 5
            out[y0 + pad : y1 - pad, c0:c1] = bgr
    return out


def blend(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend an RGBA(BGR) patch into frame at (x, y), in place, clipped to the frame."""
    H, W = frame.shape[:2]
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    p = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    region = frame[y0:y1, x0:x1]
    a = p[:, :, 3:4].astype(np.uint16)
    region[:] = ((p[:, :, :3].astype(np.uint16) * a + region.astype(np.uint16) * (255 - a) + 127) // 255).astype(
        np.uint8
    )


def _bracket_geometry(box: tuple[int, int, int, int], W: int, H: int):
    """(thickness, [(corner x, y, arm end x, arm end y along x, along y)...]) of a face's brackets, or None."""
    x0, y0, x1, y1 = box
    th = max(2, H // 240)
    x0, y0 = max(th, x0), max(th, y0)
    x1, y1 = min(W - 1 - th, x1), min(H - 1 - th, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    arm = max(6, round(min(x1 - x0, y1 - y0) * 0.18))
    return th, [(cx, cy, cx + dx * arm, cy + dy * arm) for cx, cy, dx, dy in
                ((x0, y0, 1, 1), (x1, y0, -1, 1), (x0, y1, 1, -1), (x1, y1, -1, -1))]


def brackets(frame: np.ndarray, box: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> None:
    """Corner brackets around a face box, in place, clipped to the frame."""
    H, W = frame.shape[:2]
    geometry = _bracket_geometry(box, W, H)
    if geometry is None:
        return
    th, corners = geometry
    bgr = (rgb[2], rgb[1], rgb[0])
    for cx, cy, ax, ay in corners:
        cv2.line(frame, (cx, cy), (ax, cy), bgr, th, cv2.LINE_AA)
        cv2.line(frame, (cx, cy), (cx, ay), bgr, th, cv2.LINE_AA)


def bracket_masks(box: tuple[int, int, int, int], W: int, H: int) -> list[tuple[int, int, np.ndarray]]:
    """The same brackets as coverage masks, one small (x, y, mask) per corner (for drawing in YUV)."""
    geometry = _bracket_geometry(box, W, H)
    if geometry is None:
        return []
    th, corners = geometry
    pad = th + 2  # the stroke's half width and its anti-aliased edge fit inside
    out = []
    for cx, cy, ax, ay in corners:
        left, top = min(cx, ax) - pad, min(cy, ay) - pad
        mask = np.zeros((abs(ay - cy) + 2 * pad + 1, abs(ax - cx) + 2 * pad + 1), np.uint8)
        c = (cx - left, cy - top)
        cv2.line(mask, c, (ax - left, cy - top), 255, th, cv2.LINE_AA)
        cv2.line(mask, c, (cx - left, ay - top), 255, th, cv2.LINE_AA)
        out.append((left, top, mask))
    return out
