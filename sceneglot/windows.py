"""Long inputs in time windows: cut at shot changes (else pauses), analyse each window, join at the edges.

A window is a few minutes of the input; the faces stage runs per window (frames,
detections and crops of one window at a time), and what crosses windows is
small: each track's boxes and its SFace embedding. At an edge, a track that ends
on the window's last frame and one that starts on the next window's first frame
with the same face place (IoU) and no shot change between them are one track;
persons are then clustered once over the whole input from the embeddings. An
input no longer than one window is one window: its result is the whole-file run's.

Speech has its own windows (`speech_windows`): each edge sits in the longest
pause the VAD hears within `SLACK` of a multiple of `WINDOW`, found from that
minute of audio alone, so every window's edges are known without reading the
rest and windows can run anywhere in any order (one Ray task each). ASR runs
per speech window; diarization streams the soundtrack in blocks and clusters
the speakers once from all blocks' embeddings (speech.diarize), so a turn that
crosses a window edge is one turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

WINDOW = 180.0  # seconds: long enough that few tracks meet an edge, short enough to bound memory
SLACK = 30.0  # an edge may move this far from its ideal place to land on a shot change or a pause
MIN_IOU = 0.5  # a track's last box and the next window's first box at least this much overlap: one face


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    cut_before: bool = False  # the window starts at a shot change (no track continues across it)


def plan(duration: float, cuts: list[float] = (), pauses: list[tuple[float, float]] = (), *,
         length: float = WINDOW, slack: float = SLACK, frame: float = 0.04, every: int = 1) -> list[Window]:
    """Windows covering [0, duration): each edge near a multiple of `length`, on the nearest shot change
    within `slack`, else in the middle of the longest pause there, else at the multiple itself.

    Edges fall on a multiple of `every` frames (of `frame` seconds), so detection every k-th frame
    keeps its phase across windows.
    """
    if duration <= length + slack:
        return [Window(0.0, duration)]
    grid = frame * max(1, every)
    edges: list[tuple[float, bool]] = []
    at = length
    while at < duration - slack:
        near = [c for c in cuts if abs(c - at) <= slack and (not edges or c > edges[-1][0] + grid)]
        if near:
            edge, is_cut = min(near, key=lambda c: abs(c - at)), True
        else:
            gaps = [(b - a, (a + b) / 2) for a, b in pauses if abs((a + b) / 2 - at) <= slack]
            edge, is_cut = (max(gaps)[1] if gaps else at), False
            edge = round(edge / grid) * grid
        edges.append((round(edge, 6), is_cut))
        at = edge + length
    bounds = [(0.0, False), *edges, (duration, False)]
    return [Window(a, b, cut) for (a, cut), (b, _) in pairwise(bounds) if b > a]


def pause_edge(track, at: float, slack: float = SLACK) -> float:
    """The middle of the longest pause within `slack` s of `at` (VAD on that stretch of `track`, a
    soundtrack.Soundtrack), or `at` itself when nothing is said there.

    Pauses as short as 0.1 s count (unpadded): two people talking back to back leave no 0.3 s gap for
    a minute, but the breath between two words is still not inside a word."""
    from .soundtrack import RATE
    from .speech import vad

    lo = max(0.0, at - slack)
    piece = track.read(lo, at + slack)
    regions = vad.speech_regions(piece, threshold=0.5, min_silence=0.1, pad=0.0)
    if not regions:
        return round(at, 2)
    span = len(piece) / RATE
    bounds = [0.0, *(x for r in regions for x in r), span]  # silence, speech, silence, ..., silence
    gaps = [(b - a, (a + b) / 2) for a, b in zip(bounds[::2], bounds[1::2], strict=True) if b - a > 0]
    if not gaps:  # speech runs through the whole stretch
        return round(at, 2)
    return round(lo + max(gaps)[1], 2)


def speech_windows(track, length: float = WINDOW, slack: float = SLACK, duration: float | None = None
                   ) -> list[Window]:
    """Windows over a soundtrack (soundtrack.Soundtrack): edges near each multiple of `length`, in a pause.

    Each edge depends only on the audio around its multiple, so window k's bounds are found from
    two minutes of audio whoever computes them (speech_window). An input no longer than
    `length + slack` (`duration`, else the track's) is one window.
    """
    count = speech_count(track.duration if duration is None else duration, length, slack)
    if count == 1:
        return [Window(0.0, track.duration)]
    edges = [pause_edge(track, k * length, slack) for k in range(1, count)]
    bounds = [0.0, *edges, track.duration]
    return [Window(a, b) for a, b in pairwise(bounds) if b > a]


def _iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def join(parts: list, windows: list[Window], frame: float) -> tuple[list, dict[str, np.ndarray]]:
    """Tracks of consecutive windows (FacesResults) joined at the edges: (tracks renamed T0..., embeddings)."""
    tracks, emb = [], {}
    prev_end: list = []  # tracks of the previous window touching its last frame
    for w, part in zip(windows, parts, strict=True):
        mine = []
        for tr in part.tracks:
            e = np.asarray(part.embeddings[tr.id], np.float64)
            mine.append((tr, e))
        take: dict[int, object] = {}
        if not w.cut_before and prev_end:
            pairs = sorted(((_iou(a.boxes[-1][1:], tr.boxes[0][1:]), n, i) for n, (tr, _) in enumerate(mine)
                            if tr.start <= w.start + frame / 2 for i, a in enumerate(prev_end)), reverse=True)
            used: set[int] = set()
            for iou, n, i in pairs:
                if iou >= MIN_IOU and n not in take and i not in used:
                    take[n] = prev_end[i]
                    used.add(i)
        last_frame = w.end - frame
        ends = []
        for n, (tr, e) in enumerate(mine):
            if n in take:  # the same face continues: one track
                a = take[n]
                a.boxes += tr.boxes
                a.landmarks += tr.landmarks
                a.end = tr.end
                joined = emb[id(a)] + e
                emb[id(a)] = joined / (np.linalg.norm(joined) or 1.0)
                tr = a
            else:
                tracks.append(tr)
                emb[id(tr)] = e
            if tr.end >= last_frame - frame / 2:
                ends.append(tr)
        prev_end = ends
    tracks.sort(key=lambda t: (t.start, t.boxes[0][1]))
    out = {}
    for n, tr in enumerate(tracks):
        out[f"T{n}"] = emb[id(tr)]
        tr.id = f"T{n}"
    return tracks, out


def face_windows(info, settings) -> list[Window]:
    """The faces stage's windows of an input (one when it is not long)."""
    fps = info.frame_rate
    return plan(info.duration, frame=1.0 / fps, every=settings.every)


def window_faces(path, settings, info, window: Window, crops=None):
    """The faces of one window (vision's frames, detections and crops of that window only); `crops` (an
    av.crops.FaceCrops) also receives the grey face regions of that window, as in vision.analyze_faces."""
    from .vision import _compute

    return _compute(path, settings, info, window.start, window.end, crops=crops)


def at_edge(track, windows: list[Window], k: int, frame: float) -> bool:
    """Whether `track` of window k may be joined to a track of the window before or after it (join's test:
    it touches an edge that is not a shot change), so its boxes are final only once the windows are joined."""
    w = windows[k]
    starts = k > 0 and not w.cut_before and track.start <= w.start + frame / 2
    ends = k + 1 < len(windows) and not windows[k + 1].cut_before and track.end >= w.end - frame - frame / 2
    return starts or ends


class WindowSpeakers:
    """Active speakers of a long input scored window by window from that window's own kept face regions.

    Why: one window's faces pass keeps the grey squares Light-ASD cuts its crops from (av.crops), so
    an input of one window decodes nothing for ASD; keeping them for every window of a long input is
    GBs of spool (up to 92 KB a face and frame). So as each window's faces pass ends, the tracks wholly
    inside it (`at_edge` false: no join can extend their boxes) are scored from its squares, which are
    then dropped: the spool holds one window's squares at a time (the shared scenes keep 20-50 MB for
    8-14 s, so a 180 s window of such scenes ~0.3-1.1 GB of disk, in page cache rather than held
    memory; the index is ~100 bytes a square). Tracks that meet an edge go to the asd stage,
    which decodes the video for them only, from a seek to the first (asd.score_tracks). A track's
    scores, motion and visual rows depend on its own crops and MFCC span only, so they are those the
    asd stage would give from the same crops.

    `sound()`: the soundtrack (soundtrack.Soundtrack); `threads`: asd.Engine's. `served()` gives the results
    by final track id once the windows are joined (join renames tracks in place); `close()` drops the engine
    (the two calls pipeline.analyze makes on an input of one window's av.crops.FaceCrops too).

    Until then a served track's scores and motion are kept as (N, 2) float64 arrays, 16 bytes a frame each,
    and turned back into the same lists of floats by served(): as the asd stage's lists of [t, value] they
    were ~130 bytes a frame each, held from their window's faces pass (where the job peaks, beside ASR and
    diarization) to the end: 5.24 MiB for the 162 tracks (21338 face frames) served on benchmarks/inputs.
    scenes(600), ~0.7 MiB packed; their visual rows are memory-mapped from the spool (5.2 MiB of file).
    """

    def __init__(self, folder, fps: float, sound, engine: str = "onnxruntime", model_name: str = "light-asd",
                 threads=None) -> None:
        self.folder, self.fps, self.sound = folder, fps, sound
        self.engine, self.model_name, self.threads = engine, model_name, threads
        self._runner = None
        self._done: list[tuple] = []  # (track, scores, motion, (first frame, visual rows)), packed (_pack)

    def faces(self, path, settings, info, windows: list[Window], k: int):
        """Window k's faces (window_faces), its inner tracks scored from its kept squares."""
        from .av import asd
        from .av.crops import FaceCrops

        crops = FaceCrops(self.folder, self.fps)
        try:
            part = window_faces(path, settings, info, windows[k], crops)
            fps = info.frame_rate
            inner = [tr for tr in part.tracks if not at_edge(tr, windows, k, 1.0 / fps)]
            if inner:
                if self._runner is None:
                    self._runner = asd.Engine(self.engine, self.model_name, self.threads)
                motion: dict = {}
                visual: dict = {}
                scores = asd.score_tracks(path, inner, self.sound(), engine=self._runner, motion=motion,
                                          crops=crops, visual=visual, report=False)
                self._runner.release_encoder()  # its arena (~+285 MiB) not held through the next faces pass
                self._done += [(tr, _pack(scores[tr.id]), _pack(motion.get(tr.id)), visual.get(tr.id))
                               for tr in inner]
        finally:
            crops.close()
        return part

    def served(self) -> dict[str, tuple]:
        """{final track id: (scores, motion, (first frame, visual rows))} of the tracks scored so far."""
        return {tr.id: (_unpack(scores), _unpack(motion), visual) for tr, scores, motion, visual in self._done}

    def close(self) -> None:
        """Drop the engine (its network's session); each window's squares were dropped as it ended."""
        self._runner = None


def _pack(rows):
    """[[t, value], ...] as an (N, 2) float64 array (None stays None): the same floats, 16 bytes a row."""
    return None if rows is None else np.asarray(rows, np.float64).reshape(-1, 2)


def _unpack(rows):
    """_pack's rows as the lists of floats they were."""
    return None if rows is None else rows.tolist()


def combine(parts: list, windows: list[Window], settings, info):
    """The windows' faces as one FacesResult: tracks joined at the edges, persons clustered once."""
    from .vision import FacesResult, name_persons
    from .vision.shots import shots_from_starts

    fps = info.frame_rate
    tracks, emb = join(parts, windows, 1.0 / fps)
    persons = name_persons(tracks, [emb[t.id] for t in tracks], settings.threshold)
    starts = [sh.start for part in parts for sh in part.shots[1:]]
    starts += [w.start for w in windows[1:] if w.cut_before]
    end = max([info.duration or 0.0, *(sh.end for p in parts for sh in p.shots)])
    return FacesResult(shots=shots_from_starts(sorted(starts), round(end, 6)), tracks=tracks, persons=persons,
                       frames=sum(p.frames for p in parts), embeddings={k: list(map(float, v)) for k, v in emb.items()})


def analyze_faces(path, settings, info, windows: list[Window] | None = None):
    """The faces stage window by window (see vision.analyze_faces for one window): shots, tracks, persons."""
    windows = windows or face_windows(info, settings)
    return combine([window_faces(path, settings, info, w) for w in windows], windows, settings, info)


def speech_count(duration: float, length: float = WINDOW, slack: float = SLACK) -> int:
    """How many speech windows an input of `duration` s has (speech_windows)."""
    return 1 if duration <= length + slack else int((duration - slack) // length) + 1


def speech_window(track, k: int, count: int, length: float = WINDOW, slack: float = SLACK) -> Window:
    """Speech window k of `count` over `track`, found from the audio around its two edges only."""
    start = pause_edge(track, k * length, slack) if k > 0 else 0.0
    end = pause_edge(track, (k + 1) * length, slack) if k + 1 < count else track.duration
    return Window(start, max(start, end))


__all__ = ["MIN_IOU", "SLACK", "WINDOW", "Window", "WindowSpeakers", "analyze_faces", "at_edge", "combine",
           "face_windows", "join", "pause_edge", "plan", "speech_count", "speech_window", "speech_windows",
           "window_faces"]
