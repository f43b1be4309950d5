"""Speaker -> person matching and phrase attachment on hand-made records."""

from __future__ import annotations

from sceneglot.av import assign
from sceneglot.scene import MediaInfo, Person, Scene, Segment, Speaker, Track


def _track(tid: str, person: str, start: float, end: float, score=None, fps: int = 25) -> Track:
    n = round((end - start) * fps)
    times = [round(start + k / fps, 3) for k in range(n)]
    boxes = [[t, 0, 0, 10, 10] for t in times]
    speaking = [[t, score(t)] for t in times] if score else []
    return Track(id=tid, person=person, start=start, end=times[-1], boxes=boxes, speaking=speaking)


def _seg(i: int, start: float, end: float, speaker: str) -> Segment:
    return Segment(id=i, start=start, end=end, text="x", speaker=speaker)


def test_asd_beats_cooccurrence_when_both_faces_are_on_screen():
    # Both faces visible all the time; only ASD tells who talks.
    a = _track("T0", "PA", 0, 8, lambda t: 3.0 if t < 4 else -3.0)
    b = _track("T1", "PB", 0, 8, lambda t: -3.0 if t < 4 else 3.0)
    segs = [_seg(0, 0.2, 3.8, "S1"), _seg(1, 4.2, 7.8, "S0")]
    matches = {m.speaker: m for m in assign.match_speakers(segs, [a, b])}
    assert matches["S1"].person == "PA" and matches["S0"].person == "PB"
    assert matches["S1"].confidence > 0.9


def test_hungarian_is_one_to_one_even_when_one_face_always_looks_active():
    # PA's lips move all the time (score > 0 throughout); PB speaks only in the second half.
    a = _track("T0", "PA", 0, 8, lambda t: 4.0)
    b = _track("T1", "PB", 0, 8, lambda t: -2.0 if t < 4 else 3.5)
    segs = [_seg(0, 0.0, 4.0, "S0"), _seg(1, 4.0, 8.0, "S1")]
    matches = {m.speaker: m.person for m in assign.match_speakers(segs, [a, b])}
    assert matches == {"S0": "PA", "S1": "PB"}


def test_cooccurrence_fallback_without_asd_scores():
    # Alternating shots, no ASD: presence during the speaker's time decides.
    tracks = [_track("T0", "PA", 0, 3), _track("T1", "PB", 3, 6)]
    segs = [_seg(0, 0.1, 2.9, "S0"), _seg(1, 3.1, 5.9, "S1")]
    matches = {m.speaker: m for m in assign.match_speakers(segs, tracks)}
    assert matches["S0"].person == "PA" and matches["S1"].person == "PB"
    assert matches["S0"].confidence <= assign.COOCCURRENCE_WEIGHT + 1e-9


def test_voice_over_speaker_stays_off_screen_and_phrases_get_null():
    a = _track("T0", "PA", 0, 4, lambda t: 3.0)
    segs = [_seg(0, 0.2, 3.8, "S0"), _seg(1, 5.0, 7.0, "S1")]  # S1 talks while nobody is visible
    scene = Scene(media=MediaInfo("x.mp4", 8.0, 25.0, 64, 48, True),
                  speakers=[Speaker("S0"), Speaker("S1")], persons=[Person("PA", ["T0"])],
                  tracks=[a], segments=segs)
    assign.assign(scene)
    assert scene.speakers[0].person == "PA" and scene.speakers[1].person is None
    assert [s.person for s in scene.segments] == ["PA", None]
    assert scene.segments[0].person_confidence > 0.9


def test_reverse_shot_phrase_is_null_though_speaker_is_known():
    # S0 is PA (seen speaking 0-4 s); at 5-7 s S0 talks over a shot of PB listening.
    a = _track("T0", "PA", 0, 4, lambda t: 3.0)
    b = _track("T1", "PB", 4, 8, lambda t: -3.0)
    segs = [_seg(0, 0.2, 3.8, "S0"), _seg(1, 5.0, 7.0, "S0")]
    scene = Scene(media=MediaInfo("x.mp4", 8.0, 25.0, 64, 48, True), speakers=[Speaker("S0")],
                  persons=[Person("PA", ["T0"]), Person("PB", ["T1"])], tracks=[a, b], segments=segs)
    assign.assign(scene)
    assert [s.person for s in scene.segments] == ["PA", None]


def test_fusion_silences_a_face_while_another_persons_voice_is_heard():
    a = _track("T0", "PA", 0, 8, lambda t: 4.0)  # lips move all along
    b = _track("T1", "PB", 0, 8, lambda t: -2.0 if t < 4 else 3.0)
    segs = [_seg(0, 0.0, 3.96, "S0"), _seg(1, 4.0, 7.96, "S1")]
    scene = Scene(media=MediaInfo("x.mp4", 8.0, 25.0, 64, 48, True), speakers=[Speaker("S0"), Speaker("S1")],
                  persons=[Person("PA", ["T0"]), Person("PB", ["T1"])], tracks=[a, b], segments=segs)
    assign.assign(scene)
    first = [s for t, s in a.speaking if t < 4]
    second = [s for t, s in a.speaking if t >= 4]
    assert all(s > 0 for s in first) and all(s < 0 for s in second)
    assert all(s > 0 for t, s in b.speaking if t >= 4)
