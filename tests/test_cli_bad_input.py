"""Every way an input can be wrong ends in one line on stderr and exit code 2."""

import subprocess
import sys

import av
import pytest

from tests.media_fixtures import CUT2, write_audio_only, write_video


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sceneglot", *args], capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("sceneglot: error:") and needle in lines[0]


def make_bad(kind: str, tmp_path):
    if kind == "missing":
        return tmp_path / "nope.mp4", "no such file"
    if kind == "directory":
        return tmp_path, "is a directory"
    if kind == "text":
        p = tmp_path / "notes.mp4"
        p.write_text("this is not a video\n" * 50)
        return p, "not a readable media file"
    if kind == "empty":
        p = tmp_path / "empty.mp4"
        p.touch()
        return p, "empty file"
    fraction = {"cut10": 0.1, "cut50": 0.5, "cut90": 0.9, "faststart50": 0.5}[kind]
    data = faststart_copy(tmp_path).read_bytes() if kind.startswith("faststart") else CUT2.read_bytes()
    p = tmp_path / f"{kind}.mp4"
    p.write_bytes(data[: int(len(data) * fraction)])
    return p, "truncated"


def faststart_copy(tmp_path):
    """cut2.mp4 remuxed with its index in front, the layout where FFmpeg opens a truncated file."""
    out_path = tmp_path / "faststart.mp4"
    with av.open(str(CUT2)) as src, av.open(str(out_path), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    assert out_path.read_bytes()[36:40] == b"moov" or b"moov" in out_path.read_bytes()[:200]
    return out_path


@pytest.mark.parametrize("kind", ["missing", "directory", "text", "empty", "cut10", "cut50", "cut90", "faststart50"])
def test_probe_rejects_bad_input(kind, tmp_path):
    path, needle = make_bad(kind, tmp_path)
    assert_one_line_error(run_cli("probe", str(path)), needle)


def test_probe_reports_cut2():
    proc = run_cli("probe", str(CUT2))
    assert proc.returncode == 0, proc.stderr
    assert '"duration": 12.8' in proc.stdout and '"fps": 25.0' in proc.stdout
    assert '"width": 1280' in proc.stdout and '"has_audio": true' in proc.stdout


def test_probe_accepts_odd_but_valid_media(tmp_path):
    for path in (write_video(tmp_path / "one.mp4", frames=1), write_video(tmp_path / "mute.mp4", frames=5),
                 write_audio_only(tmp_path / "tone.m4a")):
        proc = run_cli("probe", str(path))
        assert proc.returncode == 0, proc.stderr


def test_input_is_never_modified(tmp_path):
    before = CUT2.stat().st_mtime_ns, CUT2.stat().st_size
    run_cli("probe", str(CUT2))
    assert (CUT2.stat().st_mtime_ns, CUT2.stat().st_size) == before
