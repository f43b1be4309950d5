"""The "live translation" effect: type the source text out, then decode it into the translation.

Pure functions of (cue, time): the renderer asks which characters are visible
at each frame. First the source phrase types itself out (with a cursor), holds
for a moment, then every character position scrambles through random glyphs
and settles on the translation, sweeping roughly left to right as in Cyberpunk
2077's translator. Without a translation the source text types out and stays.
Characters are handled as grapheme clusters (a base letter with its combining
marks), so Devanagari, Thai and Arabic marks never float alone.
"""

from __future__ import annotations

import hashlib
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .layout import Cue

TYPE_CPS = 45.0  # characters per second of the typewriter
CURSOR = "▌"


@dataclass(frozen=True)
class Timeline:
    typed: float  # the source text is complete
    decode_start: float
    decoded: float  # the translation is complete


def clusters(text: str) -> list[str]:
    """Split into base characters each followed by its combining marks (and Indic viramas' partners)."""
    return list(_clusters(text))


@lru_cache(maxsize=4096)
def _clusters(text: str) -> tuple[str, ...]:
    """clusters(), kept: every frame of a cue splits the same few lines (typed prefixes, scramble states)."""
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if out and (cat.startswith("M") or ch in "\u200c\u200d" or out[-1].endswith(("\u094d", "\u200d"))):
            out[-1] += ch
        else:
            out.append(ch)
    return tuple(out)


def timeline(cue: Cue) -> Timeline:
    """Split the cue's time: typing <= 45% of it, a short hold, decoding <= 25% (<= 0.9 s)."""
    return _timeline(cue.start, cue.end, tuple(cue.lines), cue.text, cue.translation)


@lru_cache(maxsize=1024)
def _timeline(start: float, end: float, lines: tuple[str, ...], text: str, translation: str | None) -> Timeline:
    """timeline() of a cue with these fields (asked for on every frame the cue is on)."""
    d = max(0.0, end - start)
    n = sum(len(_clusters(s)) for s in lines)
    typed = start + min(0.45 * d, max(0.2, n / TYPE_CPS))
    if not translation or translation.strip() == text.strip():
        return Timeline(typed, typed, typed)
    hold = min(0.5, 0.12 * d)
    dec = min(0.9, 0.25 * d)
    return Timeline(typed, typed + hold, typed + hold + dec)


@lru_cache(maxsize=65536)
def _unit(start: float, *ints: int) -> float:
    """A deterministic pseudo-random number in [0, 1): the same frame always looks the same.

    Seeded from exact values: the cue's start in whole milliseconds (what the
    layout rounds it to) and integers, never repr() of a float, which differs
    between a numpy and a Python float of the same value (a fresh run and one
    read back from the caches must draw the same video, byte for byte).
    """
    key = struct.pack(f"<q{len(ints)}q", round(float(start) * 1000), *(int(i) for i in ints))
    h = hashlib.blake2b(key, digest_size=4).digest()
    return int.from_bytes(h, "little") / 2**32


def visible_lines(cue: Cue, t: float, fps: float = 25.0) -> tuple[list[str], str]:
    """The lines on screen at time t and the phase name ("type", "source", "decode", "target")."""
    tl = timeline(cue)
    src = cue.lines
    if t < tl.typed:
        frac = (t - cue.start) / max(1e-6, tl.typed - cue.start)
        total = sum(len(_clusters(s)) for s in src)
        left = max(0, min(total, round(frac * total)))
        out = []
        for line in src:
            cl = _clusters(line)
            take = min(len(cl), left)
            out.append("".join(cl[:take]))
            left -= take
        # Cursor after the last typed character.
        k = max((i for i, s in enumerate(out) if s), default=0)
        out[k] += CURSOR
        return out, "type"
    if not cue.target_lines or t < tl.decode_start:
        return list(src), "source"
    if t >= tl.decoded:
        return list(cue.target_lines), "target"
    return _decode(cue, t, tl, fps), "decode"


def _decode(cue: Cue, t: float, tl: Timeline, fps: float) -> list[str]:
    tgt = cue.target_lines or []
    n = max(len(cue.lines), len(tgt))
    pool = [c for c in _clusters("".join(tgt)) if not c.isspace()] or ["#"]
    span = tl.decoded - tl.decode_start
    tick = int(t * min(fps, 12.0))  # glyphs change 12 times a second (and each state is drawn once)
    out = []
    for k in range(n):
        a = _clusters(cue.lines[k]) if k < len(cue.lines) else ()
        b = _clusters(tgt[k]) if k < len(tgt) else ()
        width = max(len(a), len(b))
        chars = []
        for j in range(width):
            # Sweep left to right with jitter: position j scrambles in [s, s + span/2).
            u = 0.6 * j / max(1, width) + 0.4 * _unit(cue.start, k, j)
            s = tl.decode_start + u * span * 0.5
            e = s + span * 0.5
            if t >= e:
                chars.append(b[j] if j < len(b) else "")
            elif t >= s:
                if j < len(b) and b[j].isspace():
                    chars.append(" ")
                else:
                    chars.append(pool[int(_unit(cue.start, k, j, tick) * len(pool))])
            else:
                chars.append(a[j] if j < len(a) else "")
        out.append("".join(chars).rstrip())
    return out
