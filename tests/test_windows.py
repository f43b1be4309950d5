"""Windows: where edges fall, and a face track crossing an edge staying one track (real faces on cut2.mp4)."""

from __future__ import annotations

import numpy as np
import pytest

from sceneglot import media, windows
from sceneglot.jobs import FacesSettings
from sceneglot.vision import analyze_faces
from tests.media_fixtures import CUT2


def test_short_input_is_one_window():
    assert windows.plan(150.0, cuts=[40.0], pauses=[(60.0, 61.0)]) == [windows.Window(0.0, 150.0)]


def test_edges_prefer_shot_changes_then_pauses():
    ws = windows.plan(600.0, cuts=[170.0, 365.0], pauses=[(520.0, 523.0), (540.0, 540.5)], frame=0.04, every=5)
    assert [(w.start, w.cut_before) for w in ws] == [(0.0, False), (170.0, True), (365.0, True), (521.6, False)]
    assert ws[-1].end == 600.0
    assert all(round(w.start / 0.2, 6).is_integer() for w in ws)  # on the detection grid (every 5 frames)
    assert windows.plan(700.0, frame=0.04)[1].start == 180.0  # nothing to land on: the multiple itself


@pytest.fixture(scope="module")
def whole():
    info = media.probe(CUT2)
    return info, analyze_faces(CUT2, settings=FacesSettings(), info=info)


def test_track_crossing_an_edge_stays_one(whole):
    info, ref = whole
    fps = info.fps
    shot = max(ref.shots, key=lambda s: s.end - s.start)  # an edge in the middle of the longest shot
    grid = 5 / fps
    edge = round(round((shot.start + shot.end) / 2 / grid) * grid, 6)
    crossing = [t for t in ref.tracks if t.start < edge - 1 < edge + 1 < t.end]
    assert crossing, "the clip should have a face on screen across the edge"
    ws = [windows.Window(0.0, edge), windows.Window(edge, info.duration)]
    got = windows.analyze_faces(CUT2, FacesSettings(), info, ws)

    assert len(got.tracks) == len(ref.tracks)
    for a, b in zip(got.tracks, ref.tracks, strict=True):
        assert abs(a.start - b.start) <= 1.5 / fps and abs(a.end - b.end) <= 1.5 / fps, (a.id, b.id)
        assert len(a.boxes) == len(b.boxes)
        for ra, rb in zip(a.boxes, b.boxes, strict=True):
            assert ra[0] == pytest.approx(rb[0], abs=1e-6)
            off = max(abs(x - y) for x, y in zip(ra[1:], rb[1:], strict=True))
            if ra[0] < edge - 0.4:  # before the edge and its smoothing (5 sigma): the whole-file boxes
                assert off <= 0.11, ra[0]
            else:  # the tracker's motion model restarts at the edge (measured: up to 6 % of the face's width)
                assert off < 0.1 * (rb[3] - rb[1]), ra[0]
    one = [t for t in got.tracks if t.start < edge - 1 < edge + 1 < t.end]
    assert len(one) == len(crossing)  # not cut in two at the edge
    groups = lambda r: sorted(sorted(p.tracks) for p in r.persons)  # noqa: E731
    assert groups(got) == groups(ref)
    assert [x for s in got.shots for x in (s.start, s.end)] == pytest.approx(
        [x for s in ref.shots for x in (s.start, s.end)], abs=1e-3)


@pytest.mark.slow
def test_tracks_inside_a_window_scored_from_its_own_squares(tmp_path):
    """A long input's active speakers (windows.WindowSpeakers), on cut2 in three windows whose edges fall
    inside shots: the tracks wholly inside a window are scored from that window's kept squares as it ends,
    exactly as the one-window run scores the same tracks from the whole file's squares (scores, mouth
    motion, visual rows); the tracks joined across an edge are decoded, from a seek, and equal a decode
    of every track; the video is decoded for the joined tracks' frames only."""
    from sceneglot.av import asd
    from sceneglot.av.crops import FaceCrops
    from sceneglot.soundtrack import Soundtrack

    info = media.probe(CUT2)
    grid = 5 / info.fps
    edges = [round(round(info.duration * k / 3 / grid) * grid, 6) for k in (1, 2)]
    ws = [windows.Window(a, b) for a, b in zip([0.0, *edges], [*edges, info.duration], strict=True)]
    sound = Soundtrack(CUT2, info.audio_stream)
    speakers = windows.WindowSpeakers(tmp_path, info.fps, lambda: sound)
    got = windows.combine([speakers.faces(CUT2, FacesSettings(), info, ws, k) for k in range(3)], ws,
                          FacesSettings(), info)
    served = speakers.served()
    joined = [t.id for t in got.tracks if t.id not in served]
    assert served and joined, "cut2's tracks: two inside a window, two across an edge"
    assert all(any(t.start < e < t.end for e in edges) for t in got.tracks if t.id in joined)

    motion, visual, times = {}, {}, {}
    scores = asd.score_tracks(CUT2, got.tracks, sound, motion=motion, visual=visual, served=served, times=times)
    all_motion, all_visual, all_times = {}, {}, {}
    decoded = asd.score_tracks(CUT2, got.tracks, sound, motion=all_motion, visual=all_visual, times=all_times)
    for tid in joined:
        assert scores[tid] == decoded[tid] and motion[tid] == all_motion[tid]
        assert np.array_equal(visual[tid][1], all_visual[tid][1])
    assert times["frames"] < all_times["frames"] - 100

    crops = FaceCrops(tmp_path, info.fps)
    whole = analyze_faces(CUT2, settings=FacesSettings(), info=info, crops=crops)
    one_motion, one_visual = {}, {}
    one = asd.score_tracks(CUT2, whole.tracks, sound, motion=one_motion, visual=one_visual, crops=crops)
    crops.close()
    for tid in served:
        track = next(t for t in got.tracks if t.id == tid)
        same = next(t for t in whole.tracks if t.boxes == track.boxes)  # a track inside a window: the same boxes
        assert scores[tid] == one[same.id] and motion[tid] == one_motion[same.id]
        assert visual[tid][0] == one_visual[same.id][0]
        assert np.array_equal(visual[tid][1], one_visual[same.id][1])
