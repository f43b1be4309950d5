"""Attribution on the four shared scenes with the real models (`sceneglot analyze` end to end): the issue's targets.

Scored with sceneglot.av.score against ../shared/eval/scenes/*.json. A target not met is asserted as the
target anyway and marked xfail(strict=True) with the number measured, so meeting it later turns the
test red until the mark goes.
"""

from __future__ import annotations

import json
import os

import pytest

from sceneglot import pipeline
from sceneglot.av import score
from sceneglot.jobs import Job
from tests.media_fixtures import EVAL, SHARED

os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(SHARED / "models"))
SCENES = ["cut2", "twoshot", "cut4", "dialogue"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    done: dict[str, score.Score] = {}

    def get(name: str) -> score.Score:
        if name not in done:
            os.environ["SCENEGLOT_QUIET"] = "1"
            job = Job(input=str(EVAL / "scenes" / f"{name}.mp4"), folder=str(tmp_path_factory.mktemp(name)))
            scene = pipeline.analyze(job).scene
            done[name] = score.score(scene, json.loads((EVAL / "scenes" / f"{name}.json").read_text()))
        return done[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENES)
def test_speech_lands_on_the_right_face_and_speaker(scored, name):
    s = scored(name)
    assert s.covered > 0.75  # what the phrases leave out (pauses inside truth turns) is not scored
    assert s.right_face >= 0.97 and s.speaker >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENES)
def test_fused_speaking_scores_and_people(scored, name):
    s = scored(name)
    assert s.asd_fused >= 0.92
    assert s.people_found == s.people_present


@pytest.mark.slow
def test_voice_over_lands_on_no_visible_face(scored):
    assert scored("dialogue").voice_over >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENES)
def test_no_phrase_spans_a_speaker_change(scored, name):
    assert scored(name).spanning == 0


@pytest.fixture(scope="module")
def voiceover(tmp_path_factory) -> score.Score:
    """benchmarks/reedit.py's twoshot-voiceover, built in a tmp dir and analyzed: twoshot's right face speaking,
    then JFK's voice over the two-shot's first 3.5 s (the left face's lips keep moving to its muted speech,
    Light-ASD +5.3), then that face's own speech."""
    from benchmarks import reedit

    folder = tmp_path_factory.mktemp("twoshot-voiceover")
    path, truth = reedit.build("twoshot-voiceover", folder)
    os.environ["SCENEGLOT_QUIET"] = "1"
    return score.score(pipeline.analyze(Job(input=str(path), folder=str(folder / "job"))).scene, truth)


@pytest.mark.slow
def test_a_voice_over_on_a_face_mouthing_its_own_muted_speech_is_heard_off_screen(voiceover):
    """Light-ASD sees the left face saying both voices, which stay apart (they clearly differ); its lips follow
    each about equally per root second (z 0.81 and 0.82), so the one kept is the one its lips are likelier a
    speaker's on over its length (attribute.own_voice), not the one with the higher logit: JFK's voice on no face."""
    s = voiceover
    assert s.voice_over >= 0.95
    assert s.right_face >= 0.97 and s.speaker >= 0.95
    assert s.asd_fused >= 0.92 and s.people_found == s.people_present


@pytest.mark.slow
def test_no_phrase_spans_the_voice_over_s_end(voiceover):
    assert voiceover.spanning == 0
