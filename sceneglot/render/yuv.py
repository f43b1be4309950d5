"""Overlays blended straight into YUV 4:2:0 pictures: the decoded frame is never turned into RGB.

A frame's overlay is a list of `Tile`s: small rectangles (a text block, one corner of a face
bracket) holding luma and chroma premultiplied by their coverage. A tile's colours are converted
once, by libswscale with the same matrix the encoder's RGB input used (BT.601, limited range,
unless the source says otherwise), so a subtitle has the colour it had when frames went through
RGB. Blending in YUV is the same weighted mean as in RGB (the conversion is affine); chroma sees
the mean coverage of each 2x2 block, the mean a 4:2:0 encoder would take of the blended picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np


@dataclass(frozen=True)
class Tile:
    x: int  # even top-left in the frame
    y: int
    y_pre: np.ndarray  # (h, w) uint16: luma x coverage (0..255)
    y_keep: np.ndarray  # (h, w) uint16: 255 - coverage
    c_pre: np.ndarray  # (2, h/2, w/2) uint16: U and V x mean coverage of each 2x2 block
    c_keep: np.ndarray  # (h/2, w/2) uint16


class Converter:
    """BGR(A) patches to YUV(A) by libswscale, keeping its context while patch sizes repeat."""

    def __init__(self, colorspace: int | None = None, full_range: bool = False) -> None:
        self.colorspace = colorspace or None  # libswscale's SWS_CS_*; None: its default (BT.601)
        self.range = av.video.reformatter.ColorRange.JPEG if full_range else None  # None: limited (16-235)
        self._sws = av.video.reformatter.VideoReformatter()

    def yuv(self, bgr: np.ndarray) -> np.ndarray:
        """(3, h, w) uint8 Y, U, V of an (h, w, 3) BGR image, in the pictures' matrix and range."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        return self._sws.reformat(frame, format="yuv444p", dst_colorspace=self.colorspace,
                                  dst_color_range=self.range).to_ndarray()

    def yuva(self, bgra: np.ndarray) -> np.ndarray:
        """(h, w, 4) uint8 Y, U, V, alpha of an (h, w, 4) BGR + alpha patch."""
        out = np.empty(bgra.shape, np.uint8)
        out[..., :3] = self.yuv(bgra[..., :3]).transpose(1, 2, 0)
        out[..., 3] = bgra[..., 3]
        return out

    def colour(self, rgb: tuple[int, int, int]) -> np.ndarray:
        """(3,) uint8 Y, U, V of one colour."""
        bgr = np.empty((2, 2, 3), np.uint8)
        bgr[:] = (rgb[2], rgb[1], rgb[0])
        return self.yuv(bgr)[:, 0, 0].copy()


def make_tile(yuv: np.ndarray, alpha: np.ndarray, x: int, y: int, width: int, height: int) -> Tile | None:
    """A tile for `yuv` (3, h, w) with `alpha` (h, w) at (x, y), clipped to a width x height frame (even sizes).

    `yuv` may be a broadcast single colour (a bracket's).
    """
    h, w = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    ex0, ey0 = x0 - x0 % 2, y0 - y0 % 2  # grown to whole 2x2 chroma blocks
    ex1, ey1 = x1 + x1 % 2, y1 + y1 % 2
    a = np.zeros((ey1 - ey0, ex1 - ex0), np.uint16)
    a[y0 - ey0 : y1 - ey0, x0 - ex0 : x1 - ex0] = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
    planes = np.zeros((3, ey1 - ey0, ex1 - ex0), np.uint16)
    planes[:, y0 - ey0 : y1 - ey0, x0 - ex0 : x1 - ex0] = yuv[:, y0 - y : y1 - y, x0 - x : x1 - x]
    a4 = a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]  # 4 x mean coverage of each 2x2 block
    ua, va = planes[1] * a, planes[2] * a  # <= 255 * 255 each, so a sum of four needs 32 bits
    c4 = np.stack([(p[0::2, 0::2] + p[1::2, 0::2].astype(np.uint32) + p[0::2, 1::2] + p[1::2, 1::2])
                   for p in (ua, va)])
    return Tile(ex0, ey0, planes[0] * a, 255 - a,
                ((c4 + 2) // 4).astype(np.uint16), (255 - (a4 + 2) // 4).astype(np.uint16))


def blend(planes: list[np.ndarray], tile: Tile) -> None:
    """Blend `tile` in place into a yuv420p picture given as its [Y, U, V] plane arrays (`planes`)."""
    h, w = tile.y_keep.shape
    ys = planes[0][tile.y : tile.y + h, tile.x : tile.x + w]
    ys[:] = (tile.y_pre + ys * tile.y_keep + 127) // 255
    for k in (0, 1):
        cs = planes[1 + k][tile.y // 2 : tile.y // 2 + h // 2, tile.x // 2 : tile.x // 2 + w // 2]
        cs[:] = (tile.c_pre[k] + cs * tile.c_keep + 127) // 255


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Numpy views of a frame's planes (no copy: writing them writes the frame)."""
    return [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width] for p in frame.planes]


def drawable(frame: av.VideoFrame, width: int, height: int, into: av.VideoFrame | None = None) -> av.VideoFrame:
    """A yuv420p width x height frame of our own holding the decoded picture, display-oriented, cropped to even size.

    The decoder's own buffer is never written (later frames are predicted from it): a yuv420p frame
    has its planes copied, into `into` (a yuv420p width x height frame this returned before) when
    given, else into a new frame; another layout is converted once by libswscale; only a rotated or
    odd-sized picture goes through BGR, as every frame did before. Reusing `into` saves faulting in
    a fresh 1.4 MB buffer per 720p frame (1.35 -> 0.2 CPU-ms); when the encoder still holds a reference
    to it, `make_writable` gives it a buffer of its own first, so a picture already sent is never changed.
    """
    rotation = int(frame.rotation or 0) % 360
    if rotation == 0 and (frame.width, frame.height) == (width, height):
        if frame.format.name != "yuv420p":
            return frame.reformat(format="yuv420p")  # a new buffer
        out = into if into is not None else av.VideoFrame(width, height, "yuv420p")
        out.make_writable()
        for dst, src in zip(planes(out), planes(frame), strict=True):
            dst[:] = src
        return out
    from ..media import _rotate

    bgr = _rotate(frame.to_ndarray(format="bgr24"), rotation)[:height, :width]
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24").reformat(format="yuv420p")
