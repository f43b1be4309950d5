"""The entry point loads only the command it runs, and still lists them all in --help."""

import subprocess
import sys

from sceneglot.cli import COMMANDS
from tests.media_fixtures import CUT2


def test_a_command_imports_only_its_own_stage():
    code = (
        "import sys; from sceneglot.cli import main; rc = main(['probe', sys.argv[1]]);"
        "heavy = [m for m in ('torch', 'scipy', 'cv2', 'sceneglot.vision', 'sceneglot.av', 'sceneglot.speech')"
        " if m in sys.modules]; print(heavy, file=sys.stderr); sys.exit(rc or len(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(CUT2)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"fps": 25.0' in proc.stdout


def test_top_level_help_lists_every_command():
    proc = subprocess.run([sys.executable, "-m", "sceneglot", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for name in COMMANDS:
        assert f"    {name}" in proc.stdout
    assert "print what a media file holds" in proc.stdout


def test_doctor_reports_models_and_backends(capsys, monkeypatch):
    from sceneglot.cli import main
    from tests.media_fixtures import SHARED

    monkeypatch.setenv("SCENEGLOT_MODEL_PATH", str(SHARED / "models"))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for section in ("[sceneglot]", "[packages]", "[devices]", "[models]", "[translation]"):
        assert section in out
    assert "whisper-base: ok" in out and "active speakers: Light-ASD" in out
    assert "bergamot: ok" in out
