"""Real speech in five languages reaches pt, es, ca, gl and en offline; a code-switching clip goes phrase by phrase.

The transcript is the real speech stage's (Whisper + diarization); the English
pivot is Whisper's translate task on each sentence's audio, then Bergamot or
Apertium. Each clip's meaning check is one word a correct English rendering
of the clip must contain (read off the source text, not the output).
"""

from __future__ import annotations

import shutil

import pytest
from media_fixtures import EVAL, english_polish_clip

from sceneglot import scene as scene_io
from sceneglot.speech import transcribe_scene
from sceneglot.translate import translate_scene

MULTI = EVAL / "speech" / "multilingual"
# clip -> (language, a word the English of its first sentence has: Homepage, habitudes, цветочная, 表面, 广州)
CLIPS = {"deyu": ("de", "homepage"), "fayu": ("fr", "habits"), "eluosi": ("ru", "flower"),
         "japanese": ("ja", "surface"), "chinese_news": ("zh", "guangzhou")}
SECOND_LEG = {"pt": "bergamot", "es": "apertium", "ca": "apertium", "gl": "apertium"}


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    monkeypatch.delenv("SCENEGLOT_OPENAI_MODEL", raising=False)


@pytest.mark.slow
@pytest.mark.parametrize("clip", list(CLIPS))
def test_each_spoken_language_reaches_every_offline_target(clip, tmp_path):
    lang, word = CLIPS[clip]
    path = MULTI / f"{clip}.wav"
    scene = transcribe_scene(path)
    spoken = [s for s in scene.segments if s.text.strip()]
    assert spoken and {s.language for s in spoken} == {lang}
    cache = tmp_path / "c.sqlite"
    english = None
    for target in ["pt", "es", "ca", "gl", "en"]:
        out = translate_scene(scene, target, audio_path=str(path), cache_path=cache)
        segs = [s for s in out.segments if s.text.strip()]
        assert all(s.translation for s in segs), (target, [(s.text, s.pivot, s.translation) for s in segs])
        if target == "en":
            assert {s.route for s in segs} == {f"whisper:{lang}>en"} and all(s.pivot is None for s in segs)
            assert [s.translation for s in segs] == english  # the same English as the pivot (from the cache)
            continue
        assert {s.route for s in segs} == {f"whisper:{lang}>en + {SECOND_LEG[target]}:en>{target}"}
        assert all(s.pivot for s in segs)
        pivot = [s.pivot for s in segs]
        assert english is None or pivot == english  # the audio leg is made once and reused for every target
        english = pivot
        assert all(s.translation != s.pivot for s in segs)  # the second leg did translate
        scene_io.save(out, tmp_path / f"{target}.json")
        assert scene_io.load(tmp_path / f"{target}.json").segments[0].route == segs[0].route
    english_text = " ".join(s.translation for s in segs).lower()
    assert word in english_text, english_text


@pytest.mark.slow
def test_code_switching_takes_a_route_per_phrase(tmp_path):
    """English and Polish in one interview (espeak-ng voices): English goes straight to pt, Polish via English."""
    assert shutil.which("espeak-ng"), "espeak-ng (scripts/debian-packages.txt) missing"
    path = english_polish_clip(tmp_path)
    scene = transcribe_scene(path)
    assert [s.language for s in scene.segments] == ["en", "pl", "en", "pl"], [(s.language, s.text)
                                                                             for s in scene.segments]
    out = translate_scene(scene, "pt", audio_path=str(path), cache_path=tmp_path / "c.sqlite")
    routes = [s.route for s in out.segments]
    assert routes == ["bergamot:en>pt", "whisper:pl>en + bergamot:en>pt"] * 2
    assert out.segments[0].pivot is None and out.segments[2].pivot is None
    assert all(s.translation for s in out.segments)
    assert "engineer" in out.segments[3].pivot.lower() and "engenheir" in out.segments[3].translation.lower()
    assert "Varsóvia" in out.segments[2].translation or "Warsaw" in out.segments[2].translation


@pytest.mark.slow
def test_the_asr_pass_decodes_the_pivot_english_a_job_needs(tmp_path):
    """A job to pt from German: the speech stage decodes Whisper's English on its own encoder output, and the
    translation's first leg is that English (no second Whisper pass), every segment translated, route recorded."""
    from sceneglot import pipeline
    from sceneglot.jobs import Job
    from sceneglot.speech import asr

    job = Job(input=str(MULTI / "deyu.wav"), folder=str(tmp_path / "job"), target_language="pt")
    needs = pipeline._whisper_pivot(job)
    assert needs("de") and needs("ja") and not needs("en") and not needs("pt")
    assert pipeline._whisper_pivot(Job(input=job.input, folder=job.folder)) is None  # no target: no English
    scene = pipeline.analyze(job).scene
    heard = asr.heard(job.input)
    assert heard and all(h.language == "de" and 0 <= h.start < h.end <= scene.media.duration + 0.5 for h in heard)
    assert "homepage" in " ".join(h.text for h in heard).lower()
    out = translate_scene(scene, "pt", audio_path=job.input, cache_path=tmp_path / "c.sqlite")
    segs = [s for s in out.segments if s.text.strip()]
    assert segs and all(s.translation and s.pivot for s in segs), [(s.text, s.pivot, s.translation) for s in segs]
    assert {s.route for s in segs} == {"whisper:de>en + bergamot:en>pt"}
    assert " ".join(s.pivot for s in segs).split() == " ".join(h.text for h in heard).split()
