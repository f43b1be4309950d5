"""The main job (`sceneglot translate … -o OUT.mp4`) refuses bad input up front:
one line on stderr, exit code 2, no output file, input untouched."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media_fixtures import CUT2, SHARED, write_audio_only, write_video

ROOT = Path(__file__).resolve().parents[1]


def run_translate(src: Path, out: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCENEGLOT_MODEL_PATH": str(SHARED / "models"), "SCENEGLOT_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-m", "sceneglot", "translate", str(src), "--to", "pt", "-o", str(out),
         "--artifacts", str(tmp_path / "job")],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )


def prepare(kind: str, tmp_path: Path) -> tuple[Path, Path, str]:
    out = tmp_path / "out" / "result.mp4"
    out.parent.mkdir()
    if kind == "no-audio":
        return write_video(tmp_path / "mute.mp4", frames=25), out, "no audio track"
    if kind == "audio-only":
        return write_audio_only(tmp_path / "tone.m4a"), out, "no video track"
    if kind == "one-frame":
        return write_video(tmp_path / "one.mp4", frames=1, audio_seconds=0.5), out, "single video frame"
    if kind == "truncated":
        p = tmp_path / "cut.mp4"
        p.write_bytes(CUT2.read_bytes()[: CUT2.stat().st_size // 2])
        return p, out, "truncated"
    if kind == "text":
        p = tmp_path / "notes.mp4"
        p.write_text("hello\n" * 100)
        return p, out, "not a readable media file"
    if kind == "zero-byte":
        p = tmp_path / "zero.mp4"
        p.touch()
        return p, out, "empty file"
    if kind == "missing":
        return tmp_path / "missing.mp4", out, "no such file"
    if kind == "directory":
        return tmp_path, out, "is a directory"
    if kind == "output-is-input":
        src = write_video(tmp_path / "in.mp4", frames=10, audio_seconds=0.4)
        return src, src, "is the input"
    if kind == "unwritable-dir":
        return CUT2, Path("/proc/sceneglot/out.mp4"), "does not exist"
    raise AssertionError(kind)


KINDS = ["no-audio", "audio-only", "one-frame", "truncated", "text", "zero-byte", "missing", "directory",
         "output-is-input", "unwritable-dir"]


@pytest.mark.parametrize("kind", KINDS)
def test_main_job_rejects_bad_input(kind, tmp_path):
    src, out, needle = prepare(kind, tmp_path)
    before = src.read_bytes() if src.is_file() else None
    proc = run_translate(src, out, tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sceneglot: error:"), proc.stderr
    assert needle in lines[0]
    if src.is_file():
        assert src.read_bytes() == before
    if out != src and out.parent.is_dir():
        assert list(out.parent.iterdir()) == []
