"""`sceneglot avsr`: word attribution, bad input, an off-screen voice clip, and live mode on a lavfi source."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.avsr import offscreen_clip
from sceneglot import media
from sceneglot.avsr import recognize
from sceneglot.scene import Word
from tests.media_fixtures import GRID, write_video


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sceneglot", "avsr", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_words_are_kept_only_while_the_face_speaks():
    times = np.arange(0, 3, 0.04)
    scores = {"T0": [[round(t, 2), 2.0 if 1.0 <= t <= 2.0 else -3.0] for t in times if t < 2.6]}
    words = [Word(0.2, 0.5, "before"), Word(1.2, 1.5, "said"), Word(1.9, 2.3, "edge"), Word(2.8, 2.9, "gone")]
    out = recognize.attribute(words, scores)
    assert [w.visible for w in out] == [False, True, False, False]
    assert [w.face for w in out] == ["T0", "T0", "T0", None]  # no face on screen for the last word
    assert out[1].speaking == pytest.approx(2.0)
    assert out[2].speaking == pytest.approx((3 * 2.0 - 3 * 3.0) / 6, abs=0.9)  # half spoken, mean below 0
    assert recognize.window(1.0) == (11, 40)


@pytest.mark.parametrize(("args", "needle"), [
    (["nope.mp4"], "no such file"),
    (["--device", "v4l2"], "expected FORMAT:URL"),
    (["--device", "lavfi:testsrc2=d=0.2"], "no audio stream"),
])
def test_bad_input_is_one_line(args, needle):
    proc = run_cli(*args, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("sceneglot: error:") and needle in proc.stderr


def test_bad_options_are_one_line(tmp_path):
    silent = write_video(tmp_path / "silent.mp4", frames=10)
    for args, needle in ((["--lrw", str(tmp_path / "none"), str(GRID[0])], "not a folder"),
                         ([str(GRID[0]), "--roi-video", str(GRID[0])], "is the input file"),
                         ([str(silent)], "no audio track")):
        proc = run_cli(*args, timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert needle in proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_offscreen_voice_is_heard_but_not_kept(tmp_path):
    clip = tmp_path / "mixed.mkv"
    g0, g1 = offscreen_clip(GRID[0], 0, clip)
    roi_video = tmp_path / "mouth.mp4"
    proc = run_cli(str(clip), "--json", "--roi-video", str(roi_video), "--language", "en")
    assert proc.returncode == 0, proc.stderr
    words = json.loads(proc.stdout)["words"]
    outside = [w for w in words if w["end"] < g0 or w["start"] > g1]
    inside = [w for w in words if g0 <= (w["start"] + w["end"]) / 2 <= g1]
    assert len(outside) >= 6  # Whisper hears the off-screen voice...
    assert not any(w["visible"] for w in outside)  # ...and none of it is given to the face on screen
    assert inside and all(w["visible"] for w in inside)
    info = media.probe(roi_video)
    assert (info.width, info.height) == (96, 96) and info.has_audio
    assert info.frame_count == media.probe(clip).frame_count or abs(info.duration - media.probe(clip).duration) < 0.1


# A GRID clip played in real time through lavfi: a camera and a microphone in one FFmpeg input.
LIVE = f"lavfi:movie={GRID[0]}:s=dv+da[v][a];[v]realtime[out0];[a]arealtime,aresample=16000[out1]"


@pytest.mark.slow
def test_live_device_prints_words_with_latency(tmp_path):
    roi_video = tmp_path / "mouth.mp4"
    proc = run_cli("--device", LIVE, "--json", "--language", "en", "--roi-video", str(roi_video))
    assert proc.returncode == 0, proc.stderr
    words = [json.loads(line) for line in proc.stdout.splitlines()]
    assert words and any(w["visible"] for w in words)
    assert all(w["latency"] is not None and 0 < w["latency"] < 60 for w in words)
    assert all(0.3 < w["start"] < w["end"] < 3.1 for w in words)
    info = media.probe(roi_video)
    assert (info.width, info.height) == (96, 96) and abs(info.duration - 3.0) <= 0.1


@pytest.mark.slow
def test_live_lrw_windows(tmp_path):
    from sceneglot.avsr import capture, lrw, network

    ensemble = network.Ensemble(network.randomised(network.VideoModel("prelu"), 1),
                                network.randomised(network.AudioModel("prelu"), 2), lrw.VIDEO_WEIGHT)
    labels = [f"W{i}" for i in range(500)]
    live = recognize.Live(language="en", runner=lrw.Runner(lrw.export(ensemble, tmp_path / "e.onnx"), "opencv"),
                          labels=labels)
    words: list[recognize.SpokenWord] = []
    live.run(capture.frames(device=LIVE), words.append)
    kept = [w for w in words if w.visible]
    assert kept and all(w.lrw in labels and w.lrw_score <= 0 for w in kept)


@pytest.mark.slow
def test_lrw_ensemble_names_a_word_for_each_kept_word(tmp_path):
    """--lrw with a checkpoint folder (random weights: the real ones are not shipped) runs the ensemble per word."""
    import torch

    from sceneglot.avsr import network

    torch.save({"model_state_dict": network.randomised(network.VideoModel("swish"), 1).state_dict()},
               tmp_path / "lrw_resnet18_mstcn_video.pth.tar")
    torch.save({"model_state_dict": network.randomised(network.AudioModel("swish"), 2).state_dict()},
               tmp_path / "lrw_resnet18_mstcn_audio.pth.tar")
    labels = [f"WORD{i:03d}" for i in range(500)]
    (tmp_path / "500WordsSortedList.txt").write_text("\n".join(labels) + "\n")
    env_home = tmp_path / "home"
    proc = subprocess.run([sys.executable, "-m", "sceneglot", "avsr", str(GRID[2]), "--lrw", str(tmp_path),
                           "--engine", "onnxruntime", "--json", "--language", "en"], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "SCENEGLOT_HOME": str(env_home)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    kept = [w for w in out["words"] if w["visible"]]
    assert kept and all(w["lrw"] in labels and w["lrw_score"] <= 0 for w in kept)
    assert "LRW ensemble (onnxruntime)" in out["lrw"]
    assert list((env_home / "onnx").glob("lrw-ensemble-*.onnx"))  # the export is cached under SCENEGLOT_HOME
