"""The asd stage's kept Light-ASD encoder rows on twoshot.mp4: equal to the torch network's encoders, kept
in the job folder beside the stage's cache, read back memory-mapped, reused and invalidated with it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.media_fixtures import SHARED, TWOSHOT

os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(SHARED / "models"))

from sceneglot import media, pipeline
from sceneglot.av import features, sync
from sceneglot.jobs import Job, JobFolder, Progress
from sceneglot.scene import Track

TURNS = {"T0": (1, 112), "T1": (112, 199)}  # the left man speaks, then the right woman (test_av_sync)


def _tracks() -> list[Track]:
    """The fixed face boxes measured on twoshot.mp4 (as test_av_asd), the right one starting 1 s in."""
    times = [k / 25 for k in range(200)]
    return [Track("T0", 0.0, times[-1], [[t, 192, 205, 410, 505] for t in times]),
            Track("T1", 1.0, times[-1], [[t, 806, 180, 1121, 626] for t in times[25:]])]


def _run(folder: JobFolder, tracks: list[Track]):
    job = Job(str(TWOSHOT), str(folder.folder))
    info = media.probe(TWOSHOT)
    audio = pipeline._Audio(TWOSHOT, info, Progress())
    folder.hits.clear()
    return pipeline.run_asd(job, info, folder, Progress(), audio, tracks)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = JobFolder(tmp_path_factory.mktemp("job"), TWOSHOT)
    scores, encoded = _run(folder, _tracks())
    return folder, scores, encoded


@pytest.mark.slow
def test_kept_rows_equal_the_torch_encoders_and_come_back_memory_mapped(first_run):
    folder, scores, encoded = first_run
    assert "asd" not in folder.hits and set(scores) == {"scores", "motion"}
    net = sync.load_network()
    sound = media.read_audio(TWOSHOT)
    want = sync.audio_features(features.mfcc(sound), net)
    assert isinstance(encoded.audio, np.memmap) and encoded.audio.dtype == np.float16
    assert encoded.audio.shape == want.shape == (199, 128)
    assert np.abs(encoded.audio - want).max() < 1e-2  # float16 of rows up to ~10
    for track in _tracks():
        first, rows = encoded.visual[track.id]
        geo = features.geometry(track.boxes, track.start, track.end)
        assert first == round(geo.times[0] * 25) and len(geo.times) == len(scores["scores"][track.id])
        assert len(rows) == min(len(geo.times), len(want) - first)  # the last frame has no whole MFCC window
        crops = [features.crop_face(f.image, geo.x[f.index - first], geo.y[f.index - first], geo.s[f.index - first])
                 for f in media.iter_frames(TWOSHOT, fps=25, grey=True) if first <= f.index < first + len(rows)]
        assert isinstance(rows, np.memmap) and np.abs(rows - sync.visual_features(np.stack(crops), net)).max() < 1e-2


@pytest.mark.slow
def test_sync_from_kept_rows_puts_the_speaker_ahead_of_the_silent_face(first_run):
    _, _, encoded = first_run
    for speaking, (a, b) in TURNS.items():
        other = next(t for t in TURNS if t != speaking)
        speaker, silent = encoded.sync(speaking, a, b), encoded.sync(other, a, b)
        assert speaker.null > 100 and silent is not None
        assert speaker.z > silent.z + 0.5  # measured 1.73 vs 0.52 (his turn), 1.86 vs -0.21 (hers)
    a, b = TURNS["T0"]
    # T1 starts at frame 25: the span is clipped to its rows; a span it is not on, or too short, has no score
    first, rows = encoded.visual["T1"]
    assert encoded.sync("T1", 0, 30) is None and encoded.sync("T9", a, b) is None
    clipped = encoded.sync("T1", 0, b)
    assert clipped == sync.embedding_sync(rows[: b - first], encoded.audio, first)


@pytest.mark.slow
def test_kept_rows_are_reused_with_the_cache_and_invalidated_with_it(first_run):
    folder, scores, encoded = first_run
    again, kept = _run(folder, _tracks())
    assert "asd" in folder.hits and again == scores
    assert np.array_equal(kept.audio, encoded.audio)

    folder.path(pipeline.ENCODED).unlink()  # rows lost (a crash between writes), or a cache from before rows
    again, kept = _run(folder, _tracks())
    assert "asd" not in folder.hits and kept is not None and np.array_equal(kept.audio, encoded.audio)

    moved = _tracks()
    moved[1].boxes = [[t, x0 + 4, y0, x1 + 4, y1] for t, x0, y0, x1, y1 in moved[1].boxes]
    _, other = _run(folder, moved)  # other boxes: another key, new rows for the moved face
    assert "asd" not in folder.hits and not np.array_equal(other.visual["T1"][1], encoded.visual["T1"][1])
    saved = json.loads(folder.path("stage-asd.json").read_text())
    # the old key's rows were replaced: asking for the old tracks again recomputes them
    _, back = _run(folder, _tracks())
    assert "asd" not in folder.hits and saved["key"] != json.loads(folder.path("stage-asd.json").read_text())["key"]
    assert np.abs(back.visual["T1"][1].astype(np.float32) - encoded.visual["T1"][1]).max() < 1e-2


class _Side:
    """An executor that holds two tasks of a stage at once (`width`, as cluster.RayExecutor on two CPUs),
    running them here one after another: run_asd splits the stage into tasks of tracks by it."""

    width = 2

    def __call__(self, stage, fn, job, info, audio, *args):
        return fn(job, info, audio, *args)

    def map(self, stage, fn, job, info, audio, items):
        self.items = items
        return [fn(job, info, audio, *item) for item in items]


@pytest.mark.slow
def test_asd_split_into_tasks_of_tracks_equals_one_task(first_run, tmp_path):
    _, scores, encoded = first_run
    folder = JobFolder(tmp_path / "job", TWOSHOT)
    job = Job(str(TWOSHOT), str(folder.folder))
    info = media.probe(TWOSHOT)
    side = _Side()
    split, kept = pipeline.run_asd(job, info, folder, Progress(), pipeline._Audio(TWOSHOT, info, Progress()),
                                   _tracks(), side)
    assert [[t.id for t in item[0]] for item in side.items] == [["T0"], ["T1"]]
    assert [item[-1] for item in side.items] == [True, False]  # the soundtrack's rows: in one task only
    assert split == scores and list(split["scores"]) == list(scores["scores"])
    assert np.array_equal(kept.audio, encoded.audio)
    for track in ("T0", "T1"):
        assert kept.visual[track][0] == encoded.visual[track][0]
        assert np.array_equal(kept.visual[track][1], encoded.visual[track][1])


def test_track_runs_are_contiguous_in_time_balanced_and_never_empty():
    def track(i, start, end):
        return Track(f"T{i}", start, end, [])

    tracks = [track(0, 50.0, 60.0), track(1, 0.0, 10.0), track(2, 10.0, 20.0), track(3, 20.0, 50.0),
              track(4, 60.0, 61.0)]
    runs = pipeline.track_runs(tracks, 2)
    assert [[t.id for t in r] for r in runs] == [["T1", "T2", "T3"], ["T0", "T4"]]  # 50 s of faces, then 11
    assert [len(r) for r in pipeline.track_runs(tracks, 5)] == [1] * 5
    assert [[t.id for t in r] for r in pipeline.track_runs(tracks[:2], 2)] == [["T1"], ["T0"]]
    assert pipeline.track_runs([track(0, 0.0, 0.0), track(1, 0.0, 0.0), track(2, 1.0, 1.0)], 3) == \
        [[t] for t in sorted([track(0, 0.0, 0.0), track(1, 0.0, 0.0), track(2, 1.0, 1.0)], key=lambda t: t.start)]
