"""The speech package's init imports nothing: VAD and ASR load without torch; diarization runs without torch
once the networks' ONNX exports are cached, and assembling a scene from cached turns loads no diarization."""

import subprocess
import sys

from sceneglot.speech import export
from tests.media_fixtures import DIAR_WAV


def _heavy(code: str, modules: tuple[str, ...]) -> subprocess.CompletedProcess:
    check = f";heavy = [m for m in {modules!r} if m in sys.modules]; print(heavy); sys.exit(len(heavy))"
    return subprocess.run([sys.executable, "-c", "import sys;" + code + check], capture_output=True, text=True,
                          timeout=300)


def test_vad_and_asr_import_without_torch():
    proc = _heavy("import sceneglot.speech; from sceneglot.speech import asr, vad",
                  ("torch", "scipy", "sceneglot.speech.diarize"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "[]"


def test_assembling_a_scene_from_turns_loads_no_diarization():
    proc = _heavy("from sceneglot import pipeline; from sceneglot.speech.pipeline import assemble;"
                  "from sceneglot.speech.turns import SpeakerTurn, exclusive",
                  ("torch", "onnxruntime", "sceneglot.speech.diarize"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_diarization_with_cached_exports_never_imports_torch():
    export.onnx_paths()  # the one-off export (torch) happens here, if it has not already
    proc = _heavy(f"from sceneglot.media import read_audio; from sceneglot.speech.diarize import diarize_with_voices;"
                  f"turns, voices = diarize_with_voices(read_audio({str(DIAR_WAV)!r}));"
                  f"assert len({{t.speaker for t in turns}}) == 2 and voices.features.shape[1] == 512, turns",
                  ("torch",))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "[]"
