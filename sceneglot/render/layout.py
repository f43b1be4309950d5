"""Subtitle layout: phrases -> timed, line-broken cues placed next to the speaking face.

Pure functions from a Scene to a list of `Cue`s: the one place the line
breaking and timing rules live, so the burn-in, ASS, SRT and WebVTT all show
the same lines at the same times. Timing follows professional subtitling rules
(<= 42 characters a line, the "S0: " speaker label of the text files included,
<= 2 lines, 5/6 s to 7 s on screen, <= 17 characters per second, cues never
overlap and >= 2 frames separate consecutive ones);
placement puts each cue above the speaker's head, or beside it, follows the face
with a smoothed path (one point per video frame), keeps it inside the frame and
clear of every other cue on screen, and falls back to the bottom of the frame
(under the speaker, or at the top when the bottom would hide the face: small
frames) when there is no room beside the face, with a name tag when the
speaker's face is not visible.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..scene import Scene, Track

MAX_LINE = 42  # characters per line (East Asian wide characters count twice)
MAX_LINES = 2
MIN_DURATION = 5 / 6  # seconds
MAX_DURATION = 7.0
MAX_CPS = 17.0  # characters per second the viewer is asked to read
GAP_FRAMES = 2  # frames between two consecutive cues
MAX_LAG = 0.5  # seconds a cue may end after its own speech and reading time, pushed back by the one before
SMOOTH_SECONDS = 0.6  # width of the moving average that steadies the anchor
MARGIN = 0.02  # of the frame height: space to the face and to the frame edges

# Block size in pixels: (lines whose widest sets the width, number of rows, has a name tag) -> (w, h).
Measure = Callable[[Sequence[str], int, bool], tuple[int, int]]


@dataclass
class Cue:
    """One subtitle on screen: text, timing, and where it sits in every frame it spans.

    `path` rows are `[t, x0, y0]` (top-left of the text block, one per frame);
    `face` rows are `[t, x0, y0, x1, y1]` of the speaker's smoothed face box, or
    empty when the speaker is off screen (`tagged` is then True: the cue sits at
    the bottom with a name tag).
    """

    start: float
    end: float
    speaker: str | None
    text: str  # source text of this cue (a phrase or a piece of one)
    translation: str | None
    lines: list[str]  # source text broken into lines
    target_lines: list[str] | None
    language: str | None = None
    person: str | None = None
    segment: int | None = None  # id of the Segment it comes from
    name: str = ""  # name tag text (speaker's name or id)
    width: int = 0
    height: int = 0
    tagged: bool = False
    placement: str = ""  # above | right | left | below | bottom | top
    path: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    face: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))

    def at(self, t: float) -> tuple[int, int]:
        """Top-left of the block at time t (nearest frame of the path)."""
        row = self.path[_nearest(self.path, t)]
        return int(row[1]), int(row[2])

    def face_at(self, t: float) -> tuple[int, int, int, int] | None:
        if not len(self.face):
            return None
        row = self.face[_nearest(self.face, t)]
        if abs(row[0] - t) > 0.5:
            return None
        return int(row[1]), int(row[2]), int(row[3]), int(row[4])


def _nearest(rows: np.ndarray, t: float) -> int:
    i = int(np.searchsorted(rows[:, 0], t))
    if i >= len(rows) or (i > 0 and abs(rows[i - 1, 0] - t) <= abs(rows[i, 0] - t)):
        return i - 1 if i > 0 else 0
    return i


# ---------------------------------------------------------------- text


def char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)


def _is_spaced(text: str) -> bool:
    """Scripts written without spaces (CJK, Thai) may break between any two characters."""
    if text.isascii():
        return " " in text.strip()
    wide = sum(char_width(c) == 2 for c in text)
    return wide * 3 < len(text) and " " in text.strip()


_CLAUSE_END = re.compile(r"[,;:.!?…，。！？、；：،؛؟—–]$")


@lru_cache(maxsize=4096)
def _break_points(text: str) -> list[tuple[int, float]]:
    """(index, penalty) of every place a line may break; the break is *before* index.

    Breaking after clause punctuation costs nothing, between words a little, and
    inside unspaced scripts (CJK) anywhere.
    """
    points = []
    if _is_spaced(text):
        for m in re.finditer(r" +", text):
            before = text[max(0, m.start() - 1) : m.start()]
            penalty = 0.0 if _CLAUSE_END.search(before) else 1.0
            points.append((m.end(), penalty))
    else:
        for i in range(1, len(text)):
            prev = text[i - 1]
            if unicodedata.category(text[i]).startswith("M"):
                continue  # never split a base letter from its combining mark
            if unicodedata.category(text[i])[0] == "P" and text[i] not in "「『（(":
                continue  # keep closing punctuation on its line
            points.append((i, 0.0 if _CLAUSE_END.search(prev) else 1.0))
    return points


def break_lines(text: str, max_line: int = MAX_LINE, lead: int = 0) -> list[str]:
    """Break into the fewest balanced lines of <= max_line width, preferring clause ends.

    `lead` is the width of what precedes the first line (a speaker label in the
    text files): it counts against the first line. Returns more than MAX_LINES
    lines only when the text is too long: callers split phrases with
    `split_phrase` first so that does not happen.
    """
    text = " ".join(text.split())
    if text_width(text) + lead <= max_line:
        return [text] if text else []
    best: tuple[float, int] | None = None
    total = text_width(text)
    for idx, penalty in _break_points(text):
        a, b = text[:idx].rstrip(), text[idx:].lstrip()
        wa = text_width(a) + lead
        wb = total - text_width(text[:idx]) - (len(text[idx:]) - len(b))
        if wa > max_line:
            break
        if wb > max_line:
            continue
        # Balanced lines, slightly bottom-heavy (a pyramid reads best), clause breaks preferred.
        cost = abs(wa - wb) + (3 if wa > wb else 0) + 12 * penalty
        if best is None or cost < best[0]:
            best = (cost, idx)
    if best is None:  # needs three or more lines: greedy fill
        lines: list[str] = []
        rest = text
        room = max_line - lead
        while text_width(rest) > room:
            cut = [i for i, _ in _break_points(rest) if text_width(rest[:i].rstrip()) <= room]
            idx = cut[-1] if cut else _hard_cut(rest, max(1, room))
            lines.append(rest[:idx].rstrip())
            rest = rest[idx:].lstrip()
            room = max_line
        return [*lines, rest] if rest else lines
    idx = best[1]
    return [text[:idx].rstrip(), text[idx:].lstrip()]


def _hard_cut(text: str, max_line: int) -> int:
    width = 0
    for i, ch in enumerate(text):
        width += char_width(ch)
        if width > max_line:
            return max(1, i)
    return len(text)


@lru_cache(maxsize=4096)
def fits(text: str, lead: int = 0) -> bool:
    """Fits MAX_LINES lines (cached: the splitting search asks about the same pieces many times)."""
    if text_width(text) + lead > MAX_LINE * MAX_LINES:
        return False
    return len(break_lines(text, lead=lead)) <= MAX_LINES


def speaker_label(speaker: str | None) -> str:
    """What the text files put before a cue's first line ("S0: "); its width is kept free on every line set."""
    return f"{speaker}: " if speaker else ""


def split_text(text: str, pieces: int, shares: Sequence[float] | None = None, lead: int = 0) -> list[str]:
    """Split into `pieces` parts that each fit two lines, preferring clause ends, then balance.

    Dynamic programming over the break points: a piece costs its distance from
    the ideal length plus 45 characters' worth when it does not end a clause;
    pieces that do not fit two lines are ruled out (unless nothing fits).
    `shares` gives the ideal relative length of each piece (equal by default).
    """
    text = " ".join(text.split())
    if pieces <= 1 or not text:
        return [text]
    points = _break_points(text) or [(i, 1.0) for i in range(1, len(text))]
    ends = [*points, (len(text), 0.0)]
    total = text_width(text)
    shares = list(shares) if shares and len(shares) == pieces else [1.0] * pieces
    ideals = [total * w / sum(shares) for w in shares]
    inf = float("inf")

    def piece_cost(a: int, b: int, penalty: float, k: int) -> float:
        piece = text[a:b].strip()
        over = 0.0 if fits(piece, lead) else 1000.0
        return abs(text_width(piece) - ideals[k - 1]) + 45 * penalty + over

    # best[k][j]: cost of cutting text[:ends[j]] into k pieces; back[k][j]: previous end index.
    best = [[inf] * len(ends) for _ in range(pieces + 1)]
    back = [[-1] * len(ends) for _ in range(pieces + 1)]
    for j, (b, pen) in enumerate(ends):
        best[1][j] = piece_cost(0, b, pen, 1)
    for k in range(2, pieces + 1):
        for j, (b, pen) in enumerate(ends):
            for i in range(j):
                if best[k - 1][i] == inf:
                    continue
                c = best[k - 1][i] + piece_cost(ends[i][0], b, pen, k)
                if c < best[k][j]:
                    best[k][j], back[k][j] = c, i
    k = min(pieces, len(ends))
    while k > 1 and best[k][-1] == inf:
        k -= 1
    cuts, j = [], len(ends) - 1
    while k > 1:
        j = back[k][j]
        cuts.append(ends[j][0])
        k -= 1
    bounds = [0, *reversed(cuts), len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(bounds) if text[a:b].strip()]


def split_phrase(text: str, translation: str | None, lead: int = 0) -> list[tuple[str, str | None]]:
    """Cut a phrase (and its translation, in step) into parts that each fit two lines.

    The translation is cut in the same proportions as the source; among the
    smallest piece counts that fit, one whose cuts fall at clause ends on both
    sides is preferred, so each piece's translation matches its source. `lead`
    is the speaker label's width, which every piece's first line must leave free.
    """
    longest = max(text_width(text), text_width(translation or "")) + lead
    n0 = max(1, math.ceil(longest / (MAX_LINE * MAX_LINES)))

    def ok(parts: list[str] | None) -> bool:
        return parts is None or all(fits(p, lead) for p in parts)

    first = None
    for n in range(n0, n0 + 3 if translation else n0 + 1):
        src = split_text(text, n, lead=lead)
        tgt = None
        if translation:
            tgt = _regroup(split_text(translation, len(src), [text_width(s) for s in src], lead), len(src))
        if not (ok(src) and ok(tgt)):
            continue
        pairs = list(zip(src, tgt or [None] * len(src), strict=True))
        if first is None:
            first = pairs
        if tgt is None or all(bool(_CLAUSE_END.search(a)) == bool(_CLAUSE_END.search(b)) for a, b in pairs[:-1]):
            return pairs
    if first is not None:
        return first
    # Nothing fitted (a word longer than two lines): fall back to more, shorter pieces.
    n = n0 + 1
    while True:
        src = split_text(text, n, lead=lead)
        tgt = _regroup(split_text(translation, len(src), lead=lead), len(src)) if translation else None
        if (ok(src) and ok(tgt)) or n > 2 * len(text) + 4:
            return list(zip(src, tgt or [None] * len(src), strict=True))
        n += 1


def _regroup(parts: list[str], n: int) -> list[str]:
    """Make exactly n parts (a very short text may yield fewer pieces than asked)."""
    parts = [p for p in parts if p]
    while len(parts) > n:
        i = min(range(len(parts) - 1), key=lambda k: len(parts[k]) + len(parts[k + 1]))
        parts[i : i + 2] = [parts[i] + " " + parts[i + 1]]
    while len(parts) < n:
        parts.append("")
    return parts


def reading_chars(text: str, translation: str | None) -> int:
    """Characters the viewer reads: the longer of source and translation, spaces included."""
    return max(len(" ".join(text.split())), len(" ".join((translation or "").split())))


# ---------------------------------------------------------------- timing


def _piece_times(seg, pieces: list[tuple[str, str | None]]) -> list[tuple[float, float]]:
    """Start/end of each piece: from word times when the segment has them, else by length."""
    n = len(pieces)
    if n == 1:
        return [(seg.start, seg.end)]
    words = [w for w in seg.words if w.text.strip()]
    lengths = [max(1, len(p[0])) for p in pieces]
    total = sum(lengths)
    out = []
    acc = 0
    for length in lengths:
        a = seg.start + (seg.end - seg.start) * acc / total
        acc += length
        b = seg.start + (seg.end - seg.start) * acc / total
        out.append((a, b))
    if words and len(words) >= n:
        # Snap each inner boundary to the nearest gap between words.
        gaps = [(words[i].end + words[i + 1].start) / 2 for i in range(len(words) - 1)]
        for k in range(n - 1):
            b = min(gaps, key=lambda g, b=out[k][1]: abs(g - b))
            out[k] = (out[k][0], b)
            out[k + 1] = (b, out[k + 1][1])
    return out


def time_cues(cues: list[Cue], fps: float, duration: float | None) -> list[Cue]:
    """Apply minimum/maximum duration, reading speed and the gap between consecutive cues.

    One timeline for every speaker: a subtitle file (and a viewer) reads one
    cue at a time, so no two cues overlap and GAP_FRAMES separate them. A cue
    stays up for its speech, longer when reading speed needs it; it may push
    later cues back, but none ends more than MAX_LAG after it would alone.
    Where speech is denser than MAX_CPS leaves room for, sync wins and the cue
    is shorter (never under MIN_DURATION).
    """
    gap = GAP_FRAMES / fps if fps else 0.08
    order = sorted(cues, key=lambda c: (c.start, c.end))
    needs = [max(MIN_DURATION, reading_chars(c.text, c.translation) / MAX_CPS) for c in order]
    # Backwards: the latest each cue may start so that it and every later cue get their reading time.
    latest = [math.inf] * (len(order) + 1)
    for i in range(len(order) - 1, -1, -1):
        c, need = order[i], needs[i]
        own_end = max(c.end, c.start + need) + MAX_LAG
        if duration:
            own_end = min(own_end, duration)
        latest[i] = max(c.start, min(own_end, latest[i + 1] - gap) - need)
    last_end = -1e9
    for i, (cue, need) in enumerate(zip(order, needs, strict=True)):
        start = max(cue.start, last_end + gap)
        end = min(max(cue.end, start + need), latest[i + 1] - gap, start + MAX_DURATION)
        end = max(end, start + MIN_DURATION)
        if duration:  # near the end of the video: start earlier rather than run past it
            end = min(end, duration)
            start = max(min(start, end - need), last_end + gap, 0.0)
        cue.start, cue.end = round(float(start), 3), round(float(end), 3)
        if cue.end - cue.start >= 1 / (fps or 25.0):
            last_end = cue.end
    # A phrase past the end of the media (or squeezed to nothing there) cannot be shown.
    return [c for c in order if c.end - c.start >= 1 / (fps or 25.0)]


def make_cues(scene: Scene) -> list[Cue]:
    """Text and timing only (no placement): what SRT/VTT exports need, and what placement starts from."""
    names = {s.id: (s.name or s.id) for s in scene.speakers}
    cues = []
    for seg in scene.segments:
        if not seg.text.strip():
            continue
        translation = seg.translation if seg.translation and seg.translation.strip() else None
        lead = text_width(speaker_label(names.get(seg.speaker, seg.speaker)))  # what the text files print
        pieces = split_phrase(seg.text, translation, lead)
        for (src, tgt), (a, b) in zip(pieces, _piece_times(seg, pieces), strict=True):
            cues.append(Cue(
                start=a, end=b, speaker=seg.speaker, text=src, translation=tgt or None,
                lines=break_lines(src, lead=lead), target_lines=break_lines(tgt, lead=lead) if tgt else None,
                language=seg.language, person=seg.person, segment=seg.id,
                name=names.get(seg.speaker, seg.speaker or ""),
            ))
    return time_cues(cues, scene.media.frame_rate, scene.media.duration or None)


# ---------------------------------------------------------------- placement


def estimate_measure(height: int) -> Measure:
    """A font-free size estimate (0.55 em per character), for callers without a renderer."""
    size = font_px(height)

    def measure(lines: Sequence[str], rows: int, tagged: bool) -> tuple[int, int]:
        w = max((text_width(s) for s in lines), default=0) * size * 0.55
        h = rows * size * 1.3 + (size * 0.9 if tagged else 0)
        return int(w + size), int(h + size * 0.6)

    return measure


def font_px(height: int) -> int:
    """Subtitle font size: about 4.2% of the frame height (30 px at 720p)."""
    return max(12, round(height * 0.042))


def _frame_times(start: float, end: float, fps: float) -> np.ndarray:
    first = math.ceil(start * fps - 1e-6)
    last = max(first, math.floor(end * fps - 1e-6))
    return np.arange(first, last + 1) / fps


def _smooth_track(track: Track, window: float) -> np.ndarray:
    """Centred moving average (rows [t, x0, y0, x1, y1]): removes detector jitter, keeps real motion."""
    rows = np.asarray(sorted(track.boxes, key=lambda r: r[0]), np.float64)[:, :5]
    if len(rows) < 3:
        return rows
    t = rows[:, 0]
    lo = np.searchsorted(t, t - window / 2, side="left")
    hi = np.searchsorted(t, t + window / 2, side="right")
    csum = np.vstack([np.zeros((1, 4)), np.cumsum(rows[:, 1:5], axis=0)])
    out = rows.copy()
    out[:, 1:5] = (csum[hi] - csum[lo]) / (hi - lo)[:, None]
    return out


def _nearest_many(values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of the nearest of the sorted `values` for each query (the earlier one on a tie)."""
    if len(values) < 2:
        return np.zeros(len(queries), int)
    idx = np.clip(np.searchsorted(values, queries), 1, len(values) - 1)
    left = idx - 1
    return np.where(np.abs(values[left] - queries) <= np.abs(values[idx] - queries), left, idx)


def _lookup(rows: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows nearest to each time, and their distance in time."""
    idx = _nearest_many(rows[:, 0], times)
    return rows[idx], np.abs(rows[idx, 0] - times)


def _face_path(scene: Scene, person: str | None, times: np.ndarray, smoothed) -> np.ndarray | None:
    """The speaker's smoothed face box at each time, or None when it is off screen too often."""
    if person is None:
        return None
    lo, hi = times[0], times[-1]
    tracks = [t for t in scene.tracks if t.person == person and t.boxes and t.end >= lo - 0.1 and t.start <= hi + 0.1]
    if not tracks:
        return None
    out = np.full((len(times), 5), np.nan)
    out[:, 0] = times
    for tr in tracks:
        rows, dist = _lookup(smoothed(tr), times)
        ok = (dist <= 0.25) & (times >= tr.start - 0.1) & (times <= tr.end + 0.1) & np.isnan(out[:, 1])
        out[ok, 1:5] = rows[ok, 1:5]
    known = np.flatnonzero(~np.isnan(out[:, 1]))
    if len(known) < 0.5 * len(times):
        return None
    # Hold the nearest known box over short gaps (a dropped detection, a cut inside the cue).
    missing = np.flatnonzero(np.isnan(out[:, 1]))
    if len(missing):
        out[missing, 1:5] = out[known[_nearest_many(known, missing)], 1:5]
    return out


def _candidate(kind: str, face: np.ndarray, w: int, h: int, W: int, H: int, m: int) -> np.ndarray | None:
    """Block path for one placement (rows [t, x, y]), or None if it would leave the frame."""
    t, x0, y0, x1, y1 = face.T
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if kind == "above":
        x, y = cx - w / 2, y0 - m - h
    elif kind == "right":
        x, y = x1 + m, cy - h / 2
    elif kind == "left":
        x, y = x0 - m - w, cy - h / 2
    else:  # "below"
        x, y = cx - w / 2, y1 + m
    if kind in ("above", "below"):
        x = np.clip(x, m, W - m - w)
    else:
        y = np.clip(y, m, H - m - h)
    x, y = np.round(x), np.round(y)
    if (x < m - 0.5).any() or (y < m - 0.5).any() or (x + w > W - m + 0.5).any() or (y + h > H - m + 0.5).any():
        return None
    return np.stack([t, x, y], axis=1)


def _overlaps(path: np.ndarray, w: int, h: int, other: Cue, pad: int) -> bool:
    """Whether the block on `path` touches `other` (plus `pad`) in any frame both are on screen."""
    if not len(other.path):
        return False
    t = path[:, 0]
    both = (t >= other.path[0, 0] - 1e-6) & (t <= other.path[-1, 0] + 1e-6)
    if not both.any():
        return False
    rows, _ = _lookup(other.path, t[both])
    x, y = path[both, 1], path[both, 2]
    ox, oy = rows[:, 1], rows[:, 2]
    hit = (x < ox + other.width + pad) & (ox < x + w + pad) & (y < oy + other.height + pad) & (oy < y + h + pad)
    return bool(hit.any())


def _covers_others(path: np.ndarray, w: int, h: int, others: list[Track], smoothed) -> bool:
    """True when the block would hide another visible face (> 15% of the block) for > 20% of its time.

    The time share lets a cue that outlasts a shot cut by a few frames keep its place.
    """
    t, x, y = path[:, 0], path[:, 1], path[:, 2]
    hidden = np.zeros(len(t), bool)
    for tr in others:
        rows, dist = _lookup(smoothed(tr), t)
        on = (t >= tr.start) & (t <= tr.end) & (dist <= 0.25)
        ix = np.clip(np.minimum(x + w, rows[:, 3]) - np.maximum(x, rows[:, 1]), 0, None)
        iy = np.clip(np.minimum(y + h, rows[:, 4]) - np.maximum(y, rows[:, 2]), 0, None)
        hidden |= on & (ix * iy > 0.15 * w * h)
    return bool(hidden.sum() > 0.2 * len(t))


def _face_cover(path: np.ndarray, w: int, h: int, face: np.ndarray | None) -> float:
    """The largest share of the speaker's face box the block hides in any frame (0 without a face)."""
    if face is None:
        return 0.0
    x, y = path[:, 1], path[:, 2]
    ix = np.clip(np.minimum(x + w, face[:, 3]) - np.maximum(x, face[:, 1]), 0, None)
    iy = np.clip(np.minimum(y + h, face[:, 4]) - np.maximum(y, face[:, 2]), 0, None)
    area = np.maximum(1.0, (face[:, 3] - face[:, 1]) * (face[:, 4] - face[:, 2]))
    return float((ix * iy / area).max())


def _edge(times, face, every, rows, live, measure: Measure, W: int, H: int, m: int):
    """Bottom (or top) of the frame when there is no room beside the face, or no face.

    Without a visible face the block carries a name tag; with one, the colour and
    the brackets tie text and face, so the tag's row is saved, the block sits
    under the speaker and it goes to the top when the bottom would hide the
    face (small frames, faces low in the picture). Stacked clear of live cues.
    """
    tagged = face is None
    w, h = measure(every, rows, tagged)
    w = min(w, W - 2 * m)
    if face is None:
        x = np.full(len(times), round((W - w) / 2))
    else:
        x = np.round(np.clip((face[:, 1] + face[:, 3]) / 2 - w / 2, m, W - m - w))
    options = []
    for top in (False, True) if face is not None else (False,):
        for k in range(8):  # stack away from the edge
            y = m + k * (h + m // 2) if top else H - m - h - k * (h + m // 2)
            path = np.stack([times, x, np.full(len(times), round(min(max(m, y), H - m - h)))], axis=1)
            if not any(_overlaps(path, w, h, o, m // 2) for o in live) or y <= m or y >= H - m - h:
                options.append(("top" if top else "bottom", path, w, h, tagged))
                break
    # The first that leaves the face visible (< 5 % hidden), else whichever hides least.
    return min(options, key=lambda o: (_face_cover(o[1], w, h, face) >= 0.05, _face_cover(o[1], w, h, face)))


def place_cues(scene: Scene, cues: list[Cue], measure: Measure | None = None) -> list[Cue]:
    """Give every cue a size and a per-frame path; earlier cues keep their place."""
    W, H = scene.media.width, scene.media.height
    fps = scene.media.frame_rate
    measure = measure or estimate_measure(H)
    m = max(4, round(H * MARGIN))
    cache: dict[str, np.ndarray] = {}

    def smoothed(track: Track) -> np.ndarray:
        if track.id not in cache:
            cache[track.id] = _smooth_track(track, SMOOTH_SECONDS)
        return cache[track.id]

    placed: list[Cue] = []
    active: list[Cue] = []  # placed cues that may still be on screen (sorted by start, so pruning is safe)
    for cue in sorted(cues, key=lambda c: c.start):
        times = _frame_times(cue.start, cue.end, fps)
        face = _face_path(scene, cue.person, times, smoothed)
        every = [*cue.lines, *(cue.target_lines or [])]
        rows = max(1, len(cue.lines), len(cue.target_lines or []))
        active = [c for c in active if c.end > cue.start]
        live = [c for c in active if c.start < cue.end]
        others = [tr for tr in scene.tracks if tr.boxes and tr.person != cue.person
                  and tr.end > cue.start and tr.start < cue.end]
        chosen = None
        if face is not None:
            w, h = measure(every, rows, False)
            for kind in ("above", "right", "left", "below"):
                path = _candidate(kind, face, w, h, W, H, m)
                if (path is not None and not any(_overlaps(path, w, h, o, m // 2) for o in live)
                        and not _covers_others(path, w, h, others, smoothed)):
                    chosen = (kind, path, w, h, False)
                    break
        if chosen is None:
            chosen = _edge(times, face, every, rows, live, measure, W, H, m)
        kind, path, w, h, tagged = chosen
        cue.placement, cue.path, cue.width, cue.height, cue.tagged = kind, path, int(w), int(h), tagged
        cue.face = np.round(face, 2) if face is not None else np.zeros((0, 5))
        placed.append(cue)
        active.append(cue)
    return placed


def layout(scene: Scene, measure: Measure | None = None) -> list[Cue]:
    """Scene -> timed, line-broken, placed cues (the renderer's and the ASS writer's input)."""
    return place_cues(scene, make_cues(scene), measure)
