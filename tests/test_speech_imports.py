"""The speech package's init imports nothing: VAD and ASR load without torch (only diarization needs it)."""

import subprocess
import sys


def test_vad_and_asr_import_without_torch():
    code = ("import sys; import sceneglot.speech; from sceneglot.speech import asr, vad;"
            "heavy = [m for m in ('torch', 'scipy', 'sceneglot.speech.diarize') if m in sys.modules];"
            "print(heavy); sys.exit(len(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "[]"
