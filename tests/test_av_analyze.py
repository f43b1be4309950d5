"""`sceneglot analyze` end to end on twoshot.mp4: scene.json with speakers tied to faces, and its failure modes."""

from __future__ import annotations

import json
import os

import pytest

from sceneglot import cli
from tests.media_fixtures import SHARED, TWOSHOT

os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(SHARED / "models"))


@pytest.mark.slow
def test_analyze_twoshot_ties_each_voice_to_its_face(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_QUIET", "1")
    folder = tmp_path / "job"
    assert cli.main(["analyze", str(TWOSHOT), "--artifacts", str(folder)]) == 0
    scene = json.loads((folder / "scene.json").read_text())
    assert (folder / "debug-av.mp4").stat().st_size > 10_000
    speakers = {s["id"]: s["person"] for s in scene["speakers"]}
    assert len(speakers) == 2 and len(set(speakers.values())) == 2 and None not in speakers.values()
    tracks = {t["id"]: t for t in scene["tracks"]}
    assert all(len(t["speaking"]) == len(t["boxes"]) for t in tracks.values())
    # The left face (smaller x) speaks first; the phrase around t = 2 s must be attached to it.
    left = min(tracks.values(), key=lambda t: t["boxes"][0][1])["person"]
    right = max(tracks.values(), key=lambda t: t["boxes"][0][1])["person"]
    at = {round(t, 1): next(s["person"] for s in scene["segments"] if s["start"] <= t < s["end"]) for t in (2.0, 6.0)}
    assert at == {2.0: left, 6.0: right}
    assert all(s["person_confidence"] > 0.5 for s in scene["segments"])
    # Cached stages make the re-run cheap and identical.
    (folder / "scene.json").unlink()
    assert cli.main(["analyze", str(TWOSHOT), "--artifacts", str(folder), "--no-debug-video"]) == 0
    assert json.loads((folder / "scene.json").read_text())["speakers"] == scene["speakers"]


def test_analyze_rejects_bad_input_without_outputs(tmp_path, capsys):
    bad = tmp_path / "notvideo.mp4"
    bad.write_text("hello")
    folder = tmp_path / "job"
    assert cli.main(["analyze", str(bad), "--artifacts", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sceneglot: error:") and len(err.strip().splitlines()) == 1
    assert not folder.exists()
    assert cli.main(["analyze", str(TWOSHOT), "--artifacts", str(folder), "--num-speakers", "0"]) == 2
    assert cli.main(["analyze", str(TWOSHOT), "--debug-video", str(tmp_path / "no" / "x.mp4")]) == 2
