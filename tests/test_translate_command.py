"""`sceneglot translate` and `sceneglot translators` through the CLI entry point."""

from __future__ import annotations

import json

import pytest
from media_fixtures import CUT2, DIAR_WAV
from test_translate_scene import stm_scene

from sceneglot import pipeline
from sceneglot import scene as scene_io
from sceneglot.cli import main


@pytest.fixture
def fake_analyze(monkeypatch):
    """The analysis pipeline is another stage's work: here it returns the real STM transcript of sample.wav."""
    calls = []

    def analyze(input_path, artifacts_dir, language=None, num_speakers=None, min_speakers=None, max_speakers=None):
        calls.append({"input": str(input_path), "dir": str(artifacts_dir), "language": language,
                      "num_speakers": num_speakers})
        scene = stm_scene()
        scene.media.path = str(input_path)
        return scene

    monkeypatch.setattr(pipeline, "analyze", analyze, raising=False)
    return calls


def test_translate_command_fills_scene_json(tmp_path, fake_analyze, capsys, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    art = tmp_path / "job"
    rc = main(["translate", str(DIAR_WAV), "--to", "pt", "--artifacts", str(art), "--language", "en",
               "--num-speakers", "2"])
    assert rc == 0
    assert fake_analyze == [{"input": str(DIAR_WAV), "dir": str(art), "language": "en", "num_speakers": 2}]
    scene = scene_io.load(art / "scene.json")
    assert scene.target_language == "pt"
    assert all(s.translation for s in scene.segments)
    assert "segments translated to pt" in capsys.readouterr().out
    assert (tmp_path / "home" / "translate" / "cache.sqlite3").is_file()


def test_failed_translation_keeps_the_transcript(tmp_path, fake_analyze, capsys, monkeypatch):
    """A backend that fails after the analysis (a server down) leaves the transcript in scene.json."""
    from fake_servers import serve

    from sceneglot.translate import retry

    monkeypatch.setattr(retry, "delays", lambda attempts, base, cap: [0.0] * (attempts - 1))
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    art = tmp_path / "job"
    with serve("openai", ["500"] * 8) as (url, _script):
        rc = main(["translate", str(DIAR_WAV), "--to", "de", "--translator", "openai", "--openai-model", "m",
                   "--openai-base-url", url, "--artifacts", str(art)])
    assert rc == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "attempts" in err and "Traceback" not in err
    scene = scene_io.load(art / "scene.json")  # the transcript is there, untranslated
    assert len(scene.segments) > 13 and scene.target_language is None


def test_translate_command_renders_when_asked(tmp_path, fake_analyze, monkeypatch):
    import sceneglot.render.burn as burn_mod

    burned = []
    monkeypatch.setattr(burn_mod, "burn", lambda scene, src, out: burned.append((scene.target_language, src, out)))
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    out = tmp_path / "out.mp4"
    # -o needs a video with sound (audio-only input is refused up front)
    assert main(["translate", str(CUT2), "--to", "pt", "-o", str(out)]) == 0
    assert burned == [("pt", str(CUT2), str(out))]
    assert (tmp_path / "out.sceneglot" / "scene.json").is_file()  # default job folder beside -o


def test_translate_a_saved_scene_json_and_bad_inputs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    src = tmp_path / "in.json"
    scene_io.save(stm_scene(), src)
    assert main(["translate", str(src), "--to", "pt", "--translator", "bergamot", "--artifacts",
                 str(tmp_path / "a")]) == 0
    assert scene_io.load(tmp_path / "a" / "scene.json").segments[0].translation
    assert main(["translate", str(tmp_path / "missing.mp4"), "--to", "pt"]) == 2
    assert main(["translate", str(src), "--to", "pt", "--translator", "babelfish"]) == 4
    assert "unknown translator" in capsys.readouterr().err


def test_translators_command(capsys, monkeypatch):
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    assert main(["translators"]) == 0
    text = capsys.readouterr().out
    assert "bergamot  ok" in text and "set DEEPL_AUTH_KEY" in text
    assert main(["translators", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"deepl", "openai", "nllb", "opus-mt", "bergamot", "apertium", "whisper"}
    assert main(["translators", "--download", "bogus"]) == 2
