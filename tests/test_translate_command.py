"""`sceneglot translate` and `sceneglot translators` through the CLI entry point, on real speech."""

from __future__ import annotations

import json
import shutil

import pytest
from media_fixtures import JFK
from test_translate_scene import stm_scene

from sceneglot import scene as scene_io
from sceneglot.cli import main
from sceneglot.jobs import Job


@pytest.fixture(scope="module")
def jfk_job(tmp_path_factory):
    """`translate jfk.flac --to pt` with the real analysis (audio only: speech stages, no faces)."""
    root = tmp_path_factory.mktemp("jfk")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCENEGLOT_HOME", str(root / "home"))
        rc = main(["translate", str(JFK), "--to", "pt", "--artifacts", str(root / "job"), "--language", "en",
                   "--num-speakers", "1"])
    return root, rc


@pytest.mark.slow
def test_translate_command_fills_scene_json(jfk_job, capsys):
    root, rc = jfk_job
    assert rc == 0
    scene = scene_io.load(root / "job" / "scene.json")
    assert scene.target_language == "pt" and scene.source_language == "en"
    assert scene.segments and all(s.translation for s in scene.segments)
    assert "country" in " ".join(s.text for s in scene.segments).lower()  # JFK: "ask not what your country..."
    job = Job.load(root / "job")
    assert job.speech.num_speakers == 1 and job.speech.language == "en" and job.target_language == "pt"
    assert (root / "home" / "translate" / "cache.sqlite3").is_file()
    assert (root / "job" / "diarization.rttm").read_text().startswith("SPEAKER jfk 1 ")


@pytest.mark.slow
def test_failed_translation_keeps_the_transcript(jfk_job, tmp_path, capsys, monkeypatch):
    """A backend that fails after the analysis (a server down) leaves the transcript in scene.json."""
    from fake_servers import serve

    from sceneglot.translate import retry

    monkeypatch.setattr(retry, "delays", lambda attempts, base, cap: [0.0] * (attempts - 1))
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    art = tmp_path / "job"
    shutil.copytree(jfk_job[0] / "job", art)  # the analysis is cached: only translation runs
    with serve("openai", ["500"] * 8) as (url, _script):
        rc = main(["translate", str(JFK), "--to", "de", "--translator", "openai", "--openai-model", "m",
                   "--openai-base-url", url, "--artifacts", str(art), "--language", "en", "--num-speakers", "1"])
    assert rc == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "attempts" in err and "Traceback" not in err
    scene = scene_io.load(art / "scene.json")  # the transcript is there, untranslated
    assert scene.segments and scene.target_language is None


@pytest.mark.slow
def test_a_translation_edited_by_hand_survives_translating_again(jfk_job, tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(jfk_job[0] / "home"))
    art = tmp_path / "job"
    shutil.copytree(jfk_job[0] / "job", art)
    data = json.loads((art / "scene.json").read_text())
    data["segments"][0]["translation"] = "Não perguntem o que o vosso país pode fazer por vós."
    (art / "scene.json").write_text(json.dumps(data))
    args = ["translate", str(JFK), "--to", "pt", "--artifacts", str(art), "--language", "en", "--num-speakers", "1"]
    assert main(args) == 0
    seg = scene_io.load(art / "scene.json").segments[0]
    assert seg.translation == "Não perguntem o que o vosso país pode fazer por vós." and seg.translation_edited
    assert main(args) == 0  # the mark itself keeps it from now on
    assert scene_io.load(art / "scene.json").segments[0].translation_edited


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
