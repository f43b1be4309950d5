"""Long inputs' memory: what a stage holds must not grow faster than the input where it need not."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

from sceneglot.av import attribute as att
from sceneglot.av.attribute import AttributionSettings
from sceneglot.av.turns import Turn

S = AttributionSettings()


def _turns(n: int, seed: int, people: int = 7) -> list[Turn]:
    """Voices around a few speakers' centres, some seen speaking, some silent, one in ten without a voice."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 64))
    out = []
    for k in range(n):
        p = int(rng.integers(people))
        v = np.round(centres[p] + rng.normal(size=64))  # rounded: equal voices, so ties between pairs
        faces = {f"P{q}": float(rng.normal(2.5 if q == p else -1.0, 1.5))
                 for q in rng.choice(people, size=int(rng.integers(0, 3)), replace=False)}
        out.append(Turn(k, k + 1, f"S{p}", None if rng.random() < 0.1 else v / np.linalg.norm(v), faces))
    return out


def test_voice_clustering_holds_one_n_by_n_matrix_and_blocks_do_not_change_it(monkeypatch):
    # An hour has ~2500 voiced turns; the kept similarity matrix beside the sums and the whole-matrix
    # recomputation per phase made it 168 MiB there (3 x 8 n^2 bytes), 61 MiB with one.
    items = _turns(1200, 5)
    n = sum(t.voice is not None for t in items)
    monkeypatch.setattr(att, "BLOCK_ROWS", 32)  # the rows made at once: a few, beside the n x n sums
    tracemalloc.start()
    try:
        labels = att.cluster_turns(items, S)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.4 * 8 * n * n  # the float64 sums, the bool barred pairs and a block of rows
    assert 1 < max(labels) + 1 < n
    for rows in (7, 4096):  # rows a few or all at a time: the same choices
        monkeypatch.setattr(att, "BLOCK_ROWS", rows)
        assert att.cluster_turns(items, S) == labels


def _scene(minutes: float):
    """Two faces on screen throughout at 25 fps (boxes, landmarks, speaking and ASD rows), a phrase every 4 s."""
    from sceneglot.scene import MediaInfo, Person, Scene, Segment, Shot, Speaker, Track, Word

    rng = np.random.default_rng(0)
    duration, tracks = 60.0 * minutes, []
    for face in range(2):
        for k, t0 in enumerate(np.arange(0.0, duration, 30.0)):
            ts = np.round(np.arange(t0, min(duration, t0 + 30.0), 0.04), 3).tolist()
            boxes = np.round(rng.uniform(0, 1000, (len(ts), 4)), 1).tolist()
            marks = np.round(rng.uniform(0, 1000, (len(ts), 10)), 1).tolist()
            scores = np.round(rng.normal(size=(len(ts), 2)), 3).tolist()
            tracks.append(Track(f"T{face}-{k}", ts[0], ts[-1], [[t, *b] for t, b in zip(ts, boxes, strict=True)],
                                f"P{face}", [[t, s] for t, (s, _) in zip(ts, scores, strict=True)],
                                [[t, *m] for t, m in zip(ts, marks, strict=True)],
                                [[t, s] for t, (_, s) in zip(ts, scores, strict=True)]))
    segments = [Segment(i, t, t + 3.5, "a few words", "S0", "P0", "en",
                        words=[Word(t, t + 1.0, "a"), Word(t + 1.2, t + 2.0, "few"), Word(t + 2.2, t + 3.5, "words")])
                for i, t in enumerate(np.arange(0.0, duration, 4.0).tolist())]
    return Scene(MediaInfo("in.mp4", duration, 25.0, 1280, 720, True), "en", None, [Shot(0.0, duration)],
                 [Speaker("S0", "P0")], [Person(f"P{f}", [t.id for t in tracks if t.person == f"P{f}"])
                                         for f in range(2)], tracks, segments)


def test_scene_save_streams_the_same_bytes_as_dumps(tmp_path):
    # json.dumps with indent joins a string per number at the end: ~9x the file at once (an hour's scene.json,
    # 25 MiB: ~230 MiB on top of the scene); streamed, the scene's dict and little more.
    from sceneglot import scene as scene_io

    sc = _scene(3)
    path = tmp_path / "scene.json"
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        scene_io.save(sc, path)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert path.read_text(encoding="utf-8") == scene_io.dumps(sc)
    assert peak < 4 * size, (peak, size)
    assert scene_io.load(path) == sc


def _resident_file_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssFile")) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's RssFile")
def test_spooled_rows_saved_to_the_job_folder_do_not_stay_resident(tmp_path):
    # diarization's CAM++ features (184 MiB an hour) were copied to the job folder through their map, which
    # made every page resident (RSS) at the end of diarization, beside ASR and faces; save_rows writes
    # np.save's bytes a block at a time and drops each block's pages.
    from sceneglot.spool import BLOCK, RowSpool, save_rows

    spool = RowSpool(512, folder=str(tmp_path))
    rng = np.random.default_rng(0)
    for _ in range(6):
        spool.write(rng.standard_normal((8000, 512)).astype(np.float16))  # 6 x 7.8 MiB
    rows = spool.rows()
    before = _resident_file_mib()
    with open(tmp_path / "saved.npy", "wb") as fh:
        save_rows(fh, rows)
    grew = _resident_file_mib() - before
    assert grew < 2 * BLOCK * 512 * 2 / 2**20, grew  # two blocks' worth at most, not the 47 MiB of the map
    with open(tmp_path / "plain.npy", "wb") as fh:
        np.save(fh, np.ascontiguousarray(rows))
    assert (tmp_path / "saved.npy").read_bytes() == (tmp_path / "plain.npy").read_bytes()
    assert _resident_file_mib() - before > 40  # what np.save through the map leaves resident
    with open(tmp_path / "cast.npy", "wb") as fh:  # a cast, and rows that are not a map
        save_rows(fh, rows[:100].astype(np.float32), np.float16)
    assert np.array_equal(np.load(tmp_path / "cast.npy"), rows[:100])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's RssFile")
def test_pooling_turns_from_mapped_features_leaves_few_pages_resident(tmp_path):
    # The attribution pools nearly every frame of the job folder's CAM++ copy (184 MiB an hour), which stayed
    # in RSS through the assign stage; pool drops the map's pages every POOL_RELEASE turns. Same embeddings.
    from sceneglot.speech import campplus

    rng = np.random.default_rng(2)
    np.save(tmp_path / "features.npy", rng.standard_normal((48000, 512)).astype(np.float16))  # 47 MiB
    mapped = np.load(tmp_path / "features.npy", mmap_mode="r")
    spans = [(a, a + 150) for a in range(0, 48000 - 150, 200)]
    want = campplus.pool(np.array(mapped), spans)
    before = _resident_file_mib()
    got = campplus.pool(mapped, spans)
    assert _resident_file_mib() - before < 10
    assert np.array_equal(got, want)


def test_release_leaves_copy_on_write_maps_alone(tmp_path):
    from sceneglot.spool import release

    np.save(tmp_path / "rows.npy", np.zeros((4096, 16), np.float32))
    rows = np.load(tmp_path / "rows.npy", mmap_mode="c")
    rows[0, 0] = 7.0  # a private page: MADV_DONTNEED would lose it
    release(rows)
    assert rows[0, 0] == 7.0
