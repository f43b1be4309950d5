"""Active speaker scores on twoshot.mp4 (two faces side by side, one voice at a time), fallback, and analyze."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.media_fixtures import CUT2, EVAL, SHARED, TWOSHOT

os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(SHARED / "models"))

from sceneglot import av, media
from sceneglot.av import asd, attribute, lipmotion
from sceneglot.scene import MediaInfo, Person, Scene, Segment, Shot, Track, Word
from sceneglot.speech.diarize import SpeakerTurn

TRUTH = json.loads((EVAL / "scenes" / "twoshot.json").read_text())


def _face_tracks() -> list[Track]:
    """Fixed face boxes measured on twoshot.mp4 (left man, right woman), one row per frame."""
    times = [k / 25 for k in range(200)]
    left = Track("T0", 0.0, times[-1], [[t, 192, 205, 410, 505] for t in times], person="PL")
    right = Track("T1", 0.0, times[-1], [[t, 806, 180, 1121, 626] for t in times], person="PR")
    return [left, right]


def _truth_speaking(track: Track, t: float) -> bool:
    turn = next(u for u in TRUTH["turns"] if u["start"] <= t < u["end"])
    cx = (track.boxes[0][1] + track.boxes[0][3]) / 2
    return next(o for o in turn["on_screen"] if o["box"][0] <= cx < o["box"][2])["speaking"]


def _accuracy(tracks: list[Track]) -> float:
    hits = [(s > 0) == _truth_speaking(tr, t) for tr in tracks for t, s in tr.speaking]
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def scored_all() -> tuple[list[Track], dict[str, list[list[float]]], dict[str, tuple[int, np.ndarray]]]:
    """Light-ASD on the fixed tracks: scores (as tracks[].speaking), mouth motion, visual encoder rows."""
    tracks = _face_tracks()
    motion: dict[str, list[list[float]]] = {}
    visual: dict[str, tuple[int, np.ndarray]] = {}
    scores = asd.score_tracks(TWOSHOT, tracks, media.read_audio(TWOSHOT), motion=motion, visual=visual)
    for tr in tracks:
        tr.speaking = scores[tr.id]
    return tracks, motion, visual


@pytest.fixture(scope="module")
def scored_and_motion(scored_all) -> tuple[list[Track], dict[str, list[list[float]]]]:
    return scored_all[0], scored_all[1]


@pytest.fixture(scope="module")
def scored(scored_and_motion) -> list[Track]:
    return scored_and_motion[0]


@pytest.mark.slow
def test_light_asd_scores_every_frame_and_hears_the_right_speaker(scored):
    left, right = scored
    assert len(left.speaking) == len(right.speaking) == 200
    assert left.speaking[0][0] == 0.0 and abs(left.speaking[-1][0] - 7.96) < 1e-6
    r = np.array([s for _, s in right.speaking])
    l_ = np.array([s for _, s in left.speaking])
    # The woman: silent (< 0) while the man talks, speaking (> 0) after 4.5 s.
    assert np.mean(r[:100] < 0) > 0.95 and np.mean(r[125:] > 0) > 0.95
    assert np.mean(l_[:100] > 0) > 0.95  # the man while he talks
    # His lips keep moving to her voice afterwards: the network alone is fooled there (~78 %).
    assert _accuracy(scored) > 0.7


@pytest.mark.slow
def test_each_tracks_visual_rows_come_back_memory_mapped_from_the_spool(scored_all):
    """score_tracks appends a finished track's visual encoder rows to a spool file: none is held in memory."""
    tracks, _, visual = scored_all
    for tr in tracks:
        first, rows = visual[tr.id]
        assert first == 0 and isinstance(rows, np.memmap) and rows.dtype == np.float16
        assert rows.shape == (199, 128) and len(tr.speaking) == 200  # the last frame has no whole MFCC window
        assert np.isfinite(rows).all() and np.abs(rows).max() > 0.1


@pytest.mark.slow
def test_encoder_calls_a_chunk_at_a_time_score_as_one_call_over_the_whole_track(scored, monkeypatch):
    """Chunks of CHUNK frames with CONTEXT frames either side (the encoders' reach) on real tracks and audio."""
    chunked = {tr.id: np.array(tr.speaking)[:, 1] for tr in scored}
    assert all(len(v) > 3 * asd.CHUNK for v in chunked.values())  # several chunk edges inside each track
    monkeypatch.setattr(asd, "CHUNK", 10**6)  # the whole track in one encoder call
    whole = asd.score_tracks(TWOSHOT, _face_tracks(), media.read_audio(TWOSHOT))
    for key, got in chunked.items():
        want = np.array(whole[key])[:, 1]
        assert len(got) == len(want) and np.abs(got - want).max() < 1e-3


@pytest.mark.slow
def test_attribution_fuses_scores_to_90_percent_frame_accuracy(scored_and_motion):
    """Raw scores alone are fooled by his muted lips; once voices are tied to faces the fused ones are not."""
    scored, motion = scored_and_motion
    assert all(len(motion[t.id]) == len(t.speaking) for t in scored)
    tracks = [Track(t.id, t.start, t.end, t.boxes, t.person, asd=[list(r) for r in t.speaking]) for t in scored]
    words = [Word(0.2, 4.2, "a"), Word(4.6, 7.9, "b")]
    scene = Scene(MediaInfo(str(TWOSHOT), 8.0, 25.0, 1280, 720, True), shots=[Shot(0.0, 8.0)],
                  persons=[Person("PL", ["T0"]), Person("PR", ["T1"])], tracks=tracks,
                  segments=[Segment(0, 0.2, 7.9, "a b", speaker="S0", words=words)])
    turns = [SpeakerTurn(0.07, 3.94, "S0"), SpeakerTurn(4.34, 8.0, "S1")]
    attribute.attribute(scene, media.read_audio(TWOSHOT), turns, motion)
    assert {s.person for s in scene.speakers} == {"PL", "PR"}
    assert [s.person for s in scene.segments] == ["PL", "PR"]
    assert _accuracy([Track(t.id, t.start, t.end, t.boxes, speaking=t.speaking) for t in tracks]) >= 0.9
    assert [t.asd for t in tracks] == [t.speaking for t in scored]  # the network's own scores stay beside


@pytest.mark.slow
def test_a_face_seen_with_two_voices_keeps_the_one_its_lips_follow(scored_and_motion):
    """The man's lips move through his own speech and, muted, through hers: Light-ASD sees him saying both.
    Of the two, his mouth motion follows the sound of his own (attribute.own_voice on sync.py's z, from the
    motion ASD measured on its crops), by more than chance, so the muted recording's voice is not his even
    where its logit is the higher one (a re-edit with another voice over his shot: +5.3 there, +4.4 on his
    own speech)."""
    from sceneglot.av import turns as turns_mod
    from sceneglot.av.turns import Turn

    tracks, motion = scored_and_motion
    audio = media.read_audio(TWOSHOT)
    scored = [Track(t.id, t.start, t.end, t.boxes, t.person, asd=[list(r) for r in t.speaking]) for t in tracks]
    logit = {round(t * 25): s for t, s in tracks[0].speaking}

    def turn(a: float, b: float, shift: float = 0.0) -> Turn:
        mean = float(np.mean([logit[k] for k in turns_mod.frames_of(Turn(a, b, "")) if k in logit]))
        return Turn(a, b, "", faces={"PL": mean + shift, "PR": -1.0})

    own, hers = [turn(0.07, 3.94)], [turn(4.34, 8.0)]  # the audio diarization's turns of his and her voice
    assert min(own[0].faces["PL"], hers[0].faces["PL"]) > 2.0  # seen speaking in both
    louder = [turn(4.34, 8.0, shift=own[0].faces["PL"] - hers[0].faces["PL"] + 0.9)]
    unmeasured = [Turn(t.start, t.end, "", faces=dict(t.faces)) for t in own + louder]
    turns_mod.add_sync(own + hers + louder, scored, turns_mod.motion_sync_of(motion, audio))
    assert own[0].sync["PL"] > hers[0].sync["PL"] + 2 ** 0.5  # measured z 2.3 against -0.8
    assert attribute.own_voice("PL", {0: own, 1: hers}) == 0
    assert attribute.own_voice("PL", {0: own, 1: louder}) == 0
    assert attribute.own_voice("PL", {0: unmeasured[:1], 1: unmeasured[1:]}) == 1  # no sync: the logit decides


@pytest.fixture(scope="module")
def encoded(scored_all):
    """A turns.SyncOf as the pipeline's: av.sync.Encoded.sync on the visual rows ASD kept for the fixed tracks
    and the audio encoder's rows of the whole soundtrack."""
    from sceneglot.av.sync import Encoded

    return Encoded(asd.soundtrack_audio(asd.Engine(), media.read_audio(TWOSHOT)), scored_all[2]).sync


@pytest.mark.slow
def test_where_light_asd_leads_the_wrong_face_weakly_the_lips_following_the_sound_decide(scored_and_motion, encoded):
    """Her first 2 s: the man's muted lips score +4.7 with Light-ASD, hers +3.5 (a lead under the 2.0 margin,
    the wrong way). Light-ASD's own encoder rows, compared apart, say whose lips follow this sound: hers, by
    more than chance (Encoded.sync's z, 2.2 against -1.2), so she is seen speaking, on that evidence."""
    from sceneglot.av import turns as turns_mod
    from sceneglot.av.attribute import SYNC, AttributionSettings, seen_as
    from sceneglot.av.turns import Turn

    tracks, _ = scored_and_motion
    scored = [Track(t.id, t.start, t.end, t.boxes, t.person, asd=[list(r) for r in t.speaking]) for t in tracks]
    piece = Turn(4.34, 6.17, "")
    turns_mod.add_face_evidence([piece], turns_mod.face_scores(scored))
    assert 0 < piece.faces["PL"] - piece.faces["PR"] < AttributionSettings().margin
    assert attribute.seen(piece, AttributionSettings(sync=float("inf"))) is None  # Light-ASD alone: undecided
    turns_mod.add_sync([piece], scored, encoded)
    assert seen_as(piece, AttributionSettings()) == ("PR", SYNC)
    his = Turn(2.0, 3.94, "")  # his own speech, strongly seen by Light-ASD: the sync does not contradict it
    turns_mod.add_face_evidence([his], turns_mod.face_scores(scored))
    turns_mod.add_sync([his], scored, encoded)
    assert seen_as(his, AttributionSettings())[0] == "PL"


def test_fallback_is_chosen_and_labelled_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path))
    monkeypatch.setenv("SCENEGLOT_MODEL_PATH", str(tmp_path / "none"))
    monkeypatch.setenv("SCENEGLOT_OFFLINE", "1")
    which, why = av.method()
    assert which == av.FALLBACK and "missing" in why


@pytest.mark.slow
def test_lip_motion_fallback_scores_frames(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path))
    monkeypatch.setenv("SCENEGLOT_MODEL_PATH", str(tmp_path / "none"))
    monkeypatch.setenv("SCENEGLOT_OFFLINE", "1")
    tracks = _face_tracks()
    times = [r[0] for r in tracks[0].boxes]
    # A "face" on the black bar above the picture: nothing moves there.
    tracks.append(Track("T2", 0.0, times[-1], [[t, 600, 0, 680, 30] for t in times], person="PX"))
    result = av.active_speakers(TWOSHOT, tracks)
    assert result.method == av.FALLBACK
    left, right, still = (np.array([s for _, s in result.scores[k]]) for k in ("T0", "T1", "T2"))
    assert len(right) == 200 and np.isfinite(right).all()
    assert (still <= 0).all()  # voice but no motion: not speaking
    assert left[:100].mean() > still[:100].mean() + 0.5  # the man's mouth moves with his voice
    assert lipmotion.NAME.startswith("lip-motion fallback")


class _ContextEngine:
    """Stand-in network whose score depends on the whole window (running mean), so window borders matter."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, audio, video):
        return np.asarray(video, np.float32).reshape(len(video), -1)[:, :1].repeat(128, 1)

    def backend(self, feats):
        self.calls += 1
        run = np.cumsum(feats[:, 0]) / np.arange(1, len(feats) + 1)
        return np.stack([-run, run], 1)


def test_windowed_reuses_repeated_windows_without_changing_scores():
    frames = 83  # 3.3 s: the 4, 5 and 6 s passes each see the whole track as one window
    video = np.sin(np.arange(frames) * 0.37)[:, None, None] * np.ones((1, 112, 112))
    engine = _ContextEngine()
    got = asd.windowed(engine, engine.encode(None, video))
    total = np.zeros(frames)
    for seconds, w in asd.WINDOWS.items():  # the reference: every window of every pass, weighted
        n = seconds * 25
        total += w * np.concatenate([engine.backend(engine.encode(None, video[i:i + n]))[:, 1]
                                     for i in range(0, frames, n)])
    want = asd.smooth(total / sum(asd.WINDOWS.values()))
    assert np.abs(got - want).max() < 1e-6
    # Distinct windows, 8 of 11: 1 s [0,25) [25,50) [50,75) [75,83); 2 s [0,50) [50,83); 3 s [0,75) and
    # [75,83) again; 4, 5 and 6 s all [0,83). The reference loop above made 11 calls.
    assert engine.calls - 11 == 8


def test_a_kept_square_gives_the_decoded_crop_pixel_for_pixel_for_a_small_face(tmp_path):
    from sceneglot.av import features
    from sceneglot.av.crops import FaceCrops

    frame = next(iter(media.iter_frames(TWOSHOT, grey=True))).image
    crops = FaceCrops(tmp_path, 25.0)
    try:
        box = [192, 205, 330, 330]  # half-size 69 px: kept at source resolution
        crops.add(0, 0.0, frame, box)
        crops.names = {"T0": 0}
        for dx, dy, grow in [(0, 0, 1.0), (12, -9, 1.1), (-15, 14, 0.92)]:  # the smoothed box moved a little
            x, y, s = 261 + dx, 267.5 + dy, 69 * grow
            mine = crops.crop("T0", 0.0, x, y, s).astype(int)
            assert np.abs(mine - features.crop_face(frame, x, y, s).astype(int)).max() <= 1
        assert crops.outside == 0 and not list(tmp_path.iterdir())  # the spool is unlinked from the start
        crops.crop("T0", 0.0, 261 + 120, 267.5, 69)  # far outside its square: counted
        assert crops.outside == 1
    finally:
        crops.close()


@pytest.mark.slow
def test_active_speakers_from_the_faces_pass_squares_decode_nothing_and_score_as_decoded(tmp_path, monkeypatch):
    from sceneglot.av.crops import FaceCrops
    from sceneglot.vision import analyze_faces

    info = media.probe(TWOSHOT)
    crops = FaceCrops(tmp_path, info.fps)
    try:
        tracks = analyze_faces(TWOSHOT, info=info, crops=crops).tracks
        audio = media.read_audio(TWOSHOT)
        engine = asd.Engine()
        decoded_motion, kept_motion = {}, {}
        decoded = asd.score_tracks(TWOSHOT, tracks, audio, engine=engine, motion=decoded_motion)
        opened = []
        real = media.iter_frames
        monkeypatch.setattr(media, "iter_frames", lambda *a, **k: opened.append(a) or real(*a, **k))
        kept = asd.score_tracks(TWOSHOT, tracks, audio, engine=engine, motion=kept_motion, crops=crops)
    finally:
        crops.close()
    assert opened == [] and crops.outside == 0 and crops.crops == sum(len(v) for v in kept.values()) > 300
    for tr in tracks:
        a, b = np.array(decoded[tr.id])[:, 1], np.array(kept[tr.id])[:, 1]
        assert len(a) == len(b) and np.abs(a - b).mean() < 0.08 and np.abs(a - b).max() < 0.4
        assert ((a > 0) == (b > 0))[np.abs(a) > 0.4].all()
        m1, m2 = np.array(decoded_motion[tr.id])[:, 1], np.array(kept_motion[tr.id])[:, 1]
        assert np.abs(m1 - m2).max() < 0.03


def _shot_tracks() -> list[Track]:
    """Fixed face boxes on cut2.mp4 (keyframes at 0, 3.04, 6.36 and 9.48 s): one track per shot, the later
    two starting past their shot's keyframe, so a decode from a seek must run forward to them."""
    spans = [("T0", 0.0, 2.96), ("T1", 3.04, 6.28), ("T2", 6.6, 9.4), ("T3", 9.6, 12.6)]
    return [Track(tid, a, b, [[t, 280, 0, 1000, 720] for t in np.arange(a, b + 1e-6, 0.04)]) for tid, a, b in spans]


@pytest.mark.slow
def test_a_task_of_late_tracks_seeks_and_scores_as_the_whole_run():
    """score_tracks decodes from its first track (pipeline._asd_tasks splits the stage into such tasks)."""
    audio, engine = media.read_audio(CUT2), asd.Engine()
    runs = []
    for tracks in (_shot_tracks(), _shot_tracks()[2:]):
        times, motion, visual = {}, {}, {}
        scores = asd.score_tracks(CUT2, tracks, audio, engine=engine, times=times, motion=motion, visual=visual)
        runs.append((times["frames"], scores, motion, visual))
    (whole_frames, whole, whole_motion, whole_visual), (late_frames, late, late_motion, late_visual) = runs
    assert late_frames == whole_frames - round(6.6 * 25)  # decoded from the first late track's frame on
    assert list(late) == ["T2", "T3"] and all(len(late[t]) > 60 for t in late)
    for tid in late:
        assert late[tid] == whole[tid] and late_motion[tid] == whole_motion[tid]
        assert late_visual[tid][0] == whole_visual[tid][0] == round(float(late[tid][0][0]) * 25)
        assert np.array_equal(late_visual[tid][1], whole_visual[tid][1])
