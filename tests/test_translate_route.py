"""Routes: direct when a backend does the pair, else through English; both legs carry whole sentences.

Real backends throughout (Bergamot, Apertium, Whisper's availability).
"""

from __future__ import annotations

import json

import pytest
from media_fixtures import DIAR_WAV

from sceneglot import scene as scene_io
from sceneglot.cli import main
from sceneglot.errors import BackendError, InputError
from sceneglot.scene import MediaInfo, Scene, Segment, Speaker
from sceneglot.translate import create, plan, translate_scene
from sceneglot.translate.base import Phrase, Request
from sceneglot.translate.cache import Cache


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    """What a machine without keys has: the online backends are not set up."""
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    monkeypatch.delenv("SCENEGLOT_OPENAI_MODEL", raising=False)


def test_pivot_when_no_backend_does_the_pair():
    route = plan("de", "pt")
    assert route.name == "whisper:de>en + bergamot:en>pt" and route.pivot and "through English" in route.why
    assert plan("ja", "es").name == "whisper:ja>en + apertium:en>es"
    # A text backend for the first leg goes before Whisper (it translates what the transcript says).
    assert plan("es", "pt").name == "apertium:es>en + bergamot:en>pt"
    assert plan("pt", "gl").name == "bergamot:pt>en + apertium:en>gl"
    # Unknown spoken language: Whisper detects it while translating.
    assert plan(None, "pt").name == "whisper:?>en + bergamot:en>pt"
    assert plan("pt", "pt").legs == () and plan("zh", "en").name == "whisper:zh>en"
    assert plan("jw", "en").name == "whisper:jv>en"  # Whisper's code for Javanese, normalised, still reaches it


def test_direct_route_wins_when_one_exists(monkeypatch):
    assert plan("en", "pt").name == "bergamot:en>pt" and not plan("en", "pt").pivot
    monkeypatch.setenv("DEEPL_AUTH_KEY", "k:fx")  # DeepL does de->pt itself: no pivot
    route = plan("de", "pt")
    assert route.name == "deepl:de>pt" and route.why.startswith("direct")


def test_named_translator_takes_the_leg_it_can():
    assert plan("de", "pt", "bergamot").name == "whisper:de>en + bergamot:en>pt"
    assert plan("de", "es", "apertium").name == "whisper:de>en + apertium:en>es"
    assert plan("de", "gl", "whisper").name == "whisper:de>en + apertium:en>gl"
    with pytest.raises(BackendError, match=r"apertium cannot translate de->pt or either leg"):
        plan("de", "pt", "apertium")


def test_without_audio_whisper_is_no_route():
    with pytest.raises(BackendError) as err:
        plan("de", "pt", has_audio=False)
    msg = str(err.value)
    assert "whisper (needs the input's audio)" in msg and "\n" not in msg


def test_only_backends_that_do_the_pair_are_suggested():
    with pytest.raises(InputError, match="not a language code for the target: 'xx'"):
        plan("en", "xx")
    with pytest.raises(InputError, match="spoken language"):
        plan("qq", "pt")
    with pytest.raises(BackendError) as err:
        plan("en", "ja")
    msg = str(err.value)
    assert "deepl" in msg and "openai" in msg and "nllb" in msg
    assert "opus-mt" not in msg  # there is no opus-mt-en-ja model to download
    assert not create("opus-mt").supports("en", "xx") and not create("openai").supports("en", "xx")
    assert create("opus-mt").supports("ja", "en") and create("opus-mt").supports("en", "de")


def es_scene() -> Scene:
    """A Spanish speaker whose first sentence was cut in two by the subtitler, then a second sentence."""
    media = MediaInfo(path="none.wav", duration=9.0, fps=0.0, width=0, height=0, has_audio=False, has_video=False)
    return Scene(media=media, source_language="es", speakers=[Speaker("S0")], segments=[
        Segment(0, 0.0, 1.5, "No sabía que", speaker="S0", language="es"),
        Segment(1, 1.6, 3.0, "estabas allí.", speaker="S0", language="es"),
        Segment(2, 3.5, 5.0, "Tengo hambre.", speaker="S0", language="es"),
    ])


def test_both_legs_translate_whole_sentences_and_record_the_route(tmp_path):
    out = translate_scene(es_scene(), "pt", cache_path=tmp_path / "c.sqlite")
    segs = out.segments
    assert [s.route for s in segs] == ["apertium:es>en + bergamot:en>pt"] * 3
    assert all(s.pivot and s.translation for s in segs)
    # The English leg saw the whole sentence, not its two pieces; the Portuguese leg saw the whole English.
    apertium, bergamot = create("apertium"), create("bergamot")
    whole = (Phrase(0, "No sabía que estabas allí."),)
    english = apertium.translate(Request(whole, "es", "en", whole))[0]
    assert f"{segs[0].pivot} {segs[1].pivot}" == english
    en_whole = (Phrase(0, english),)
    assert f"{segs[0].translation} {segs[1].translation}" == bergamot.translate(Request(en_whole, "en", "pt",
                                                                                        en_whole))[0]
    assert "sabia" in f"{segs[0].translation} {segs[1].translation}"
    assert len(Cache(tmp_path / "c.sqlite")) == 4  # 2 sentences x 2 legs, one entry each
    scene_io.save(out, tmp_path / "scene.json")
    back = scene_io.load(tmp_path / "scene.json")
    assert back.segments[2].pivot == segs[2].pivot and back.segments[2].route == segs[2].route
    # A direct route leaves no pivot; text already in the target language has no route.
    direct = translate_scene(es_scene(), "en", cache_path=tmp_path / "c.sqlite")
    assert {s.route for s in direct.segments} == {"apertium:es>en"} and all(s.pivot is None for s in direct.segments)
    same = translate_scene(es_scene(), "es", cache_path=tmp_path / "c.sqlite")
    assert [s.translation for s in same.segments] == [s.text for s in same.segments]
    assert all(s.route is None for s in same.segments)


@pytest.mark.parametrize("target, rc, words", [("xx", 2, "not a language code"), ("ja", 4, "nllb")])
def test_unreachable_target_fails_before_any_work(tmp_path, capsys, target, rc, words):
    """The job folder is the analysis' first write: it must not even exist."""
    art = tmp_path / "job"
    assert main(["translate", str(DIAR_WAV), "--to", target, "--artifacts", str(art)]) == rc
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err and "opus-mt" not in err
    assert "--language" not in err  # knowing the spoken language would not help: nothing writes ja here
    assert not art.exists()


def test_translators_prints_the_route_and_why(capsys):
    assert main(["translators", "--from", "de,en", "--to", "pt,es"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("de->pt  whisper:de>en + bergamot:en>pt  (") and "through English" in lines[0]
    assert lines[2].startswith("en->pt  bergamot:en>pt  (direct")
    assert main(["translators", "--from", "ru", "--to", "ja", "--json"]) == 4  # no route is an error
    row = json.loads(capsys.readouterr().out)[0]
    assert row["route"] is None and "nllb" in row["why"] and "opus-mt" not in row["why"]
    assert main(["translators", "--to", "xx"]) == 2
    capsys.readouterr()
    assert main(["translators", "--download", "opus-mt:en-pl"]) == 2  # no such model: nothing is fetched
    assert "no published opus-mt-en-pl" in capsys.readouterr().err


def test_planning_a_route_loads_no_model_code():
    """The translate command plans before any analysis, and a Ray driver translates: neither imports Whisper's
    engine to learn which languages it hears (the list is data, checked here against its tokenizer)."""
    import subprocess
    import sys

    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from sceneglot.translate.languages import whisper_languages

    assert whisper_languages() == frozenset(_LANGUAGE_CODES)
    code = ("import sys; from sceneglot.translate import plan; print(plan('de', 'pt').name, plan('', 'es').name,"
            " [m for m in ('ctranslate2', 'faster_whisper', 'onnxruntime') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["whisper:de>en", "+", "bergamot:en>pt", "whisper:?>en", "+", "apertium:en>es", "[]"]
