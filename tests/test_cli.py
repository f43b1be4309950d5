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


def test_after_a_job_the_entry_point_leaves_at_once_with_its_output_flushed_and_its_code(tmp_path):
    """`python -m sceneglot` skips the interpreter's teardown of the model runtimes (seconds) once a job is done."""
    import os

    from tests.media_fixtures import GRID, SHARED

    env = {**os.environ, "SCENEGLOT_MODEL_PATH": str(SHARED / "models"), "SCENEGLOT_QUIET": "1"}
    folder = tmp_path / "job"
    proc = subprocess.run([sys.executable, "-m", "sceneglot", "analyze", str(GRID[1]), "--artifacts", str(folder),
                           "--no-debug-video"], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert str(folder / "scene.json") in proc.stdout and (folder / "scene.json").is_file()  # flushed through a pipe
    assert not [p for p in folder.iterdir() if ".part" in p.name or p.name.startswith(".sceneglot-crops")]
    bad = subprocess.run([sys.executable, "-m", "sceneglot", "analyze", str(tmp_path / "missing.mp4")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("sceneglot: error:")
