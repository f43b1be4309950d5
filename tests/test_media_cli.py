"""The CLI on awkward media made from the shared clips: several audio tracks, silence, damage.

Each run is the real job (no stage stubbed); what the user sees is checked:
exit code, the notes on stderr (one line each), the summary on stdout naming
every file written, and the subtitle files read back with independent parsers.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from media_fixtures import CUT2
from test_media import damaged_copy, two_track_copy
from test_subtitle_files import PARSERS, check_file

from sceneglot.cli import main


def _summary_files(out: str) -> list[Path]:
    """The files the summary on stdout names (indented lines after the headline)."""
    lines = out.splitlines()
    assert lines and not lines[0].startswith(" "), out
    return [Path(s.strip()) for s in lines[1:] if s.startswith("  ")]


def _garbage_audio_copy(path: Path) -> Path:
    """cut2 with every audio packet's bytes replaced by noise: the video decodes, the sound never does."""
    rng = np.random.default_rng(3)
    with av.open(str(CUT2)) as src, av.open(str(path), "w", format="mp4") as out:
        v_in, a_in = src.streams.video[0], src.streams.audio[0]
        v_out, a_out = out.add_stream_from_template(v_in), out.add_stream_from_template(a_in)
        for packet in src.demux(v_in, a_in):
            if packet.dts is None:
                continue
            if packet.stream.index == a_in.index:
                bad = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                bad.pts, bad.dts, bad.time_base = packet.pts, packet.dts, packet.time_base
                bad.stream = a_out
                out.mux(bad)
            else:
                packet.stream = v_out
                out.mux(packet)
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_muted_first_track_the_stream_used_is_named_and_override_checked(home, capsys):
    src = two_track_copy(home / "guide-first.mkv")
    assert main(["transcribe", str(src), "--artifacts", str(home / "job")]) == 0
    cap = capsys.readouterr()
    notes = [s for s in cap.err.splitlines() if s.startswith("sceneglot:")]
    assert notes == ["sceneglot: listening to audio stream 1 of 0-1 (eng, aac, 2 ch); "
                     "--audio-stream N picks another"], cap.err
    files = _summary_files(cap.out)
    assert int(cap.out.split()[0]) >= 3  # phrases heard: the real soundtrack, not the muted guide
    assert {p.name for p in files} >= {"scene.json", "transcript.srt", "transcript.vtt", "diarization.rttm"}
    for f in files:
        if f.suffix in PARSERS:
            check_file(f)
    # A stream the file does not have: one line, exit 2, and no job folder made.
    assert main(["transcribe", str(src), "--audio-stream", "2", "--artifacts", str(home / "other")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no audio stream 2" in err and "0-1" in err
    assert not (home / "other").exists()


@pytest.mark.slow
def test_no_speech_is_said_and_the_video_still_made(home, capsys):
    src = two_track_copy(home / "silent.mp4", container="mp4", sound=False)
    out = home / "out.mp4"
    assert main(["translate", str(src), "--to", "pt", "--translator", "bergamot", "-o", str(out)]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == ["sceneglot: no speech found in silent.mp4: no subtitle files written; "
                                    "the video is written without subtitles"], cap.err
    files = _summary_files(cap.out)
    assert out in files and all(f.is_file() for f in files)
    assert not [f for f in home.rglob("*") if f.suffix in (".srt", ".vtt", ".ass")]  # none rather than empty
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 320 and len(c.streams.audio) == 1


@pytest.mark.slow
def test_damaged_file_is_processed_with_one_line_naming_the_range(home, capsys):
    src = damaged_copy(home / "damaged.mp4")
    out = home / "out.mp4"
    assert main(["translate", str(src), "--to", "pt", "--translator", "bergamot", "-o", str(out)]) == 0
    cap = capsys.readouterr()
    assert len(cap.err.splitlines()) == 1, cap.err
    assert cap.err.startswith("sceneglot: warning: damaged video and audio in damaged.mp4 between 6.")
    files = _summary_files(cap.out)
    names = {f.name for f in files}
    assert {"out.mp4", "out.en.srt", "out.pt.srt", "out.en.vtt", "out.pt.vtt", "out.ass", "scene.json"} <= names
    for f in files:
        if f.suffix in PARSERS:
            check_file(f)
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 320


def test_unreadable_sound_is_refused_in_one_line_without_leaving_a_job_folder(home, capsys):
    src = _garbage_audio_copy(home / "noise-audio.mp4")
    assert main(["transcribe", str(src)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"sceneglot: error: corrupt audio in {src}: no audio packet decodes"]
    assert not list(home.glob("*.sceneglot"))



@pytest.mark.slow
def test_analyze_summary_is_on_stdout_and_names_every_file(home, capsys):
    src = two_track_copy(home / "silent.mp4", container="mp4", sound=False)
    assert main(["analyze", str(src), "--artifacts", str(home / "job")]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == ["sceneglot: no speech found in silent.mp4: no subtitle files written"], cap.err
    assert cap.out.splitlines()[0].startswith("0 phrases (0 on a face), 0 speakers, ")
    files = _summary_files(cap.out)
    assert {p.name for p in files} >= {"scene.json", "job.json", "debug-av.mp4"}
    assert set(files) == {p.absolute() for p in (home / "job").iterdir() if not p.name.startswith("stage-")}
