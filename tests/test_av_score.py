"""The truth-format scorer (sceneglot.av.score) on the shared scenes' truth files."""

from __future__ import annotations

import json

import pytest

from sceneglot.av import score
from sceneglot.scene import MediaInfo, Person, Scene, Segment, Speaker, Track, Word
from tests.media_fixtures import EVAL

SCENES = ["cut2", "twoshot", "cut4", "dialogue"]


def _truth(name: str) -> dict:
    return json.loads((EVAL / "scenes" / f"{name}.json").read_text())


def _scene_from_truth(truth: dict, rename: bool = True) -> Scene:
    """A scene that says exactly what the truth says, under other labels: one phrase per turn, one track
    per (turn, visible person) with a score of +3 while speaking and -3 otherwise."""
    person = {}
    speaker = {}
    tracks, segments = [], []
    for n, u in enumerate(truth["turns"]):
        sid = speaker.setdefault(u["speaker"], f"S{len(speaker)}")
        for o in u["on_screen"]:
            pid = person.setdefault(o["person"], f"P{len(person)}" if rename else o["person"])
            times = [round(u["start"] + k / 25, 3) for k in range(round((u["end"] - u["start"]) * 25))]
            tracks.append(Track(f"T{len(tracks)}", times[0], times[-1], [[t, *o["box"]] for t in times], pid,
                                speaking=[[t, 3.0 if o["speaking"] else -3.0] for t in times],
                                asd=[[t, 3.0 if o["speaking"] else -3.0] for t in times]))
        on = next((person[o["person"]] for o in u["on_screen"] if o["speaking"]), None)
        words = [Word(u["start"] + 0.05, (u["start"] + u["end"]) / 2, "a"), Word((u["start"] + u["end"]) / 2,
                                                                                  u["end"] - 0.05, "b")]
        segments.append(Segment(n, u["start"], u["end"], "a b", speaker=sid, person=on, words=words))
    persons = [Person(pid, [t.id for t in tracks if t.person == pid]) for pid in person.values()]
    return Scene(MediaInfo("x.mp4", truth["duration"], 25.0, 1280, 720, True), speakers=[Speaker(s) for s in
                 speaker.values()], persons=persons, tracks=tracks, segments=segments)


@pytest.mark.parametrize("name", SCENES)
def test_the_truth_itself_scores_perfectly_under_other_labels(name):
    truth = _truth(name)
    s = score.score(_scene_from_truth(truth), truth)
    assert (s.right_face, s.speaker, s.asd_raw, s.asd_fused, s.covered) == (1.0, 1.0, 1.0, 1.0, 1.0)
    assert s.people_found == s.people_present == len({o["person"] for u in truth["turns"] for o in u["on_screen"]})
    assert s.spanning == 0 and s.phrases == len(truth["turns"])
    assert s.voice_over == (1.0 if name == "dialogue" else None)


def test_errors_are_counted_where_they_are():
    truth = _truth("dialogue")  # adams 0-2.5, hill 2.5-5, adams 5-7, hill 7-10, radio 10-14 (off screen)
    scene = _scene_from_truth(truth)
    last = scene.segments[-1]
    last.person, last.speaker = scene.segments[-2].person, scene.segments[-2].speaker  # voice-over -> hill
    s = score.score(scene, truth)
    assert s.voice_over == 0.0
    assert s.right_face == pytest.approx(10 / 14) and s.speaker == pytest.approx(10 / 14)
    # One phrase from 2.5 to 7 s: it spans two changes of speaker (hill -> adams).
    scene = _scene_from_truth(truth)
    a, b = scene.segments[1], scene.segments[2]
    a.end, a.words = b.end, a.words + b.words
    scene.segments.remove(b)
    assert score.score(scene, truth).spanning == 1
    # A word straddling an edit point by exactly half belongs to nobody and spans nothing.
    assert score.word_speaker(truth, 2.45, 2.55) is None and score.word_speaker(truth, 2.4, 2.55) == "adams"


def test_fused_and_raw_scores_are_scored_apart():
    truth = _truth("twoshot")
    scene = _scene_from_truth(truth)
    for tr in scene.tracks:
        tr.asd = [[t, 3.0] for t, _ in tr.asd]  # the network says everyone speaks all the time
    s = score.score(scene, truth)
    assert s.asd_fused == 1.0 and s.asd_raw == pytest.approx(0.5)
