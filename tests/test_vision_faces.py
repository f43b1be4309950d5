"""End-to-end faces stage on the shared scenes, GRID clips and generated awkward inputs."""

import dataclasses
import json
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from sceneglot import cli, media
from sceneglot import scene as scene_io
from sceneglot.jobs import FacesSettings, JobFolder, Progress
from sceneglot.pipeline import run_stage
from sceneglot.vision import FacesResult, analyze_faces
from tests.media_fixtures import CUT2, GRID, TWOSHOT

pytestmark = pytest.mark.slow


def _valid(path, r: FacesResult) -> scene_io.Scene:
    """The result must make a scene.json that passes the schema and the meaning checks."""
    sc = scene_io.Scene(media=media.probe(path), shots=r.shots, tracks=r.tracks, persons=r.persons)
    scene_io.dumps(sc)
    for t in r.tracks:
        times = [row[0] for row in t.boxes]
        assert times == sorted(times) and times[0] == t.start and times[-1] == t.end
        assert all(len(row) == 5 for row in t.boxes)
    return sc


def _frame_times(path) -> list[float]:
    return [f.time for f in media.iter_frames(path, size=(32, 18))]


@pytest.fixture(scope="module")
def cut2() -> FacesResult:
    return analyze_faces(CUT2)


def test_cut2_two_persons_four_tracks_three_cuts(cut2):
    _valid(CUT2, cut2)
    assert [s.start for s in cut2.shots] == [0.0, 3.04, 6.36, 9.48]
    assert len(cut2.tracks) == 4
    assert len(cut2.persons) == 2
    persons = [t.person for t in cut2.tracks]
    assert persons[0] == persons[2] != persons[1] == persons[3]  # A B A B
    truth = json.loads(CUT2.with_suffix(".json").read_text())
    times = _frame_times(CUT2)
    for track, shot, turn in zip(cut2.tracks, cut2.shots, truth["turns"], strict=True):
        # One box for every frame of the shot, none outside it.
        in_shot = [t for t in times if shot.start - 1e-6 <= t < shot.end - 1e-6]
        assert [row[0] for row in track.boxes] == [round(t, 6) for t in in_shot]
        x0, y0, x1, y1 = turn["on_screen"][0]["box"]
        for _, a, b, c, d in track.boxes:
            assert x0 <= (a + c) / 2 <= x1 and y0 <= (b + d) / 2 <= y1
            assert 120 < c - a < 400


def test_twoshot_two_persons_no_identity_switch():
    r = analyze_faces(TWOSHOT)
    _valid(TWOSHOT, r)
    assert len(r.shots) == 1 and len(r.persons) == 2 and len(r.tracks) == 2
    left, right = sorted(r.tracks, key=lambda t: t.boxes[0][1])
    assert left.person != right.person
    n = len(_frame_times(TWOSHOT))
    assert len(left.boxes) == len(right.boxes) == n == 200
    assert all((row[1] + row[3]) / 2 < 640 for row in left.boxes)
    assert all((row[1] + row[3]) / 2 > 640 for row in right.boxes)
    # Smooth: the centre never jumps more than a few pixels between frames.
    for t in (left, right):
        cx = np.array([(row[1] + row[3]) / 2 for row in t.boxes])
        assert np.abs(np.diff(cx)).max() < 15


@pytest.mark.parametrize("clip", GRID, ids=[p.stem for p in GRID])
def test_grid_one_speaker_one_track(clip):
    r = analyze_faces(clip)
    _valid(clip, r)
    assert len(r.tracks) == 1 and len(r.persons) == 1
    assert len(r.tracks[0].boxes) == r.frames == 75
    x0, y0, x1, y1 = r.tracks[0].boxes[40][1:]
    assert 0 <= x0 < x1 <= 360 and 0 <= y0 < y1 <= 288


# --- generated inputs -----------------------------------------------------------------


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A real face image: the first frame of a GRID clip (360x288, the face fills ~1/3 of it)."""
    return next(media.iter_frames(GRID[0])).image


def _write(path, frames, fps: int = 25, rotation: int | None = None):
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        h, w = frames[0].shape[:2]
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        if rotation is not None:
            v.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    return path


def _canvas(w: int, h: int, face: np.ndarray, scale: float, at: tuple[int, int]) -> np.ndarray:
    img = np.full((h, w, 3), 90, np.uint8)
    small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    x, y = at
    img[y : y + small.shape[0], x : x + small.shape[1]] = small
    return img


def test_no_face_gives_one_shot_and_nothing_else(tmp_path):
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (9, 16, 3)).astype(np.uint8), (320, 180))
    path = _write(tmp_path / "noface.mp4", [np.roll(base, i, axis=1) for i in range(20)])
    r = analyze_faces(path)
    _valid(path, r)
    assert r.tracks == [] and r.persons == [] and len(r.shots) == 1


def test_black_video(tmp_path):
    path = _write(tmp_path / "black.mp4", [np.zeros((240, 320, 3), np.uint8)] * 25)
    r = analyze_faces(path)
    _valid(path, r)
    assert r.tracks == [] and r.persons == [] and [(s.start, s.end) for s in r.shots] == [(0.0, 1.0)]


def test_tiny_faces_are_a_valid_result(tmp_path, face):
    # The whole GRID frame at 1/10: a face of about 10 px in a 1280x720 frame.
    path = _write(tmp_path / "tiny.mp4", [_canvas(1280, 720, face, 0.1, (600, 300))] * 15)
    r = analyze_faces(path)
    _valid(path, r)
    assert len(r.tracks) <= 1 and len(r.persons) == len(r.tracks)


def test_4k_frames_boxes_in_source_pixels(tmp_path, face):
    frames = [_canvas(3840, 2160, face, 4.0, (1600 + 4 * i, 600)) for i in range(12)]
    path = _write(tmp_path / "uhd.mp4", frames)
    r = analyze_faces(path)
    _valid(path, r)
    assert len(r.tracks) == 1 and len(r.tracks[0].boxes) == 12
    x0, y0, x1, y1 = r.tracks[0].boxes[0][1:]
    # The face sits inside the pasted 1440x1152 image, in 4K pixel units.
    assert 1600 < x0 < x1 < 1600 + 1440 and 600 < y0 < y1 < 600 + 1152
    assert x1 - x0 > 250


def test_portrait_rotation_metadata(tmp_path, face):
    display = _canvas(360, 640, face, 1.0, (0, 200))  # upright as the viewer sees it
    stored = np.rot90(display, -1)  # the encoder gets it lying down, + a 90° display matrix
    path = _write(tmp_path / "portrait.mp4", [stored] * 10, rotation=90)
    info = media.probe(path)
    assert (info.width, info.height) == (360, 640)
    r = analyze_faces(path)
    _valid(path, r)
    assert len(r.tracks) == 1
    x0, y0, x1, y1 = r.tracks[0].boxes[0][1:]
    assert 0 <= x0 < x1 <= 360 and 200 <= y0 < y1 <= 200 + 288


# --- CLI and caching ------------------------------------------------------------------


def test_cli_writes_scene_json_and_debug_video(tmp_path):
    out = tmp_path / "job"
    dbg = tmp_path / "debug.mp4"
    assert cli.main(["faces", str(GRID[1]), "--artifacts", str(out), "--debug-video", str(dbg)]) == 0
    sc = scene_io.load(out / "scene.json")
    assert len(sc.tracks) == 1 and sc.tracks[0].person == sc.persons[0].id
    assert (out / "stage-faces.json").is_file()
    assert media.probe(dbg).frame_count == 75
    # A second run is served from the stage cache (never recomputed: its timings stay empty), same tracks.
    cached = run_stage(Progress(), JobFolder(out, GRID[1]), "faces", dataclasses.asdict(FacesSettings()),
                       lambda: pytest.fail("recomputed"), FacesResult)
    assert cached.timings == {} and cached.tracks == sc.tracks


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video at all")
    assert cli.main(["faces", str(bad), "--artifacts", str(tmp_path / "job")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sceneglot: error:")
    assert not (tmp_path / "job" / "scene.json").exists()


def test_audio_only_gives_empty_result(tmp_path):
    from tests.media_fixtures import write_audio_only

    path = write_audio_only(tmp_path / "a.m4a", 0.5)
    r = analyze_faces(path)
    _valid(path, r)
    assert r.shots == [] and r.tracks == [] and r.persons == []


def test_cli_rejects_bad_settings(tmp_path, capsys):
    assert cli.main(["faces", str(GRID[0]), "--every", "0", "--artifacts", str(tmp_path / "j")]) == 2
    assert "--every" in capsys.readouterr().err


@pytest.mark.parametrize(("hidden", "tracks"), [((30, 45), 1), ((15, 60), 2)])
def test_occlusion_short_keeps_track_long_splits_but_same_person(tmp_path, hidden, tracks):
    frames = []
    for f in media.iter_frames(GRID[2]):
        img = f.image.copy()
        if hidden[0] <= f.index < hidden[1]:
            face = img[80:260, 120:255]  # the face, pixelated beyond recognition (no cut-like jump)
            img[80:260, 120:255] = cv2.resize(cv2.resize(face, (4, 5), interpolation=cv2.INTER_AREA),
                                              face.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        frames.append(img)
    path = _write(tmp_path / "occluded.mp4", frames)
    r = analyze_faces(path)
    _valid(path, r)
    assert len(r.shots) == 1
    assert len(r.tracks) == tracks and len(r.persons) == 1
    if tracks == 1:
        assert len(r.tracks[0].boxes) == 75  # interpolated through the occlusion
    else:
        assert r.tracks[0].end < hidden[0] / 25 + 0.25 and r.tracks[1].start >= hidden[1] / 25 - 0.01


def test_asd_squares_from_the_decoded_frame_equal_those_cut_from_the_whole_grey_frame(tmp_path, face):
    """The faces pass range-expands only the luma under each square (media.Frame.luma(region)): the squares
    must be the ones cut from the whole grey picture, for boxes inside, across and past the frame's edges,
    on a limited-range 720p scene and on a rotated input (where the region is cut after rotating)."""
    import os

    from sceneglot.av.crops import FaceCrops

    display = _canvas(360, 640, face, 1.0, (0, 200))
    rotated = _write(tmp_path / "portrait.mp4", [np.rot90(display, -1)] * 3, rotation=90)
    boxes = [(192, 205, 330, 330), (-60, 300, 90, 470), (1200, 600, 1400, 800), (-500, -500, -300, -300),
             (100, 100, 700, 700), (20.4, 33.7, 61.2, 80.9)]
    for path, take in ((CUT2, 4), (rotated, 2)):
        crops = FaceCrops(tmp_path, 25.0)
        try:
            for fr in media.iter_frames(path, size=(64, 36), keep_source=True):
                if fr.index >= take:
                    break
                grey = fr.luma()
                assert fr.luma_shape == grey.shape
                assert (fr.luma((3, 5, 40, 30)) == grey[5:30, 3:40]).all()
                for box in boxes:
                    start = crops._size
                    crops.add(0, fr.time, fr, box)
                    mine = os.pread(crops._file.fileno(), crops._size - start, start)
                    start = crops._size
                    crops.add(0, fr.time, grey, box)  # the whole grey frame, as before
                    assert mine == os.pread(crops._file.fileno(), crops._size - start, start), (path, box)
        finally:
            crops.close()
