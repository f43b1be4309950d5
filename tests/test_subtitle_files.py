"""Every subtitle file the pipeline writes, read back with independent parsers and held to the layout rules.

The parsers are test-only dependencies (requirements.txt): `srt` in strict
mode for SubRip, webvtt-py for WebVTT, pysubs2 for ASS. The rules are the
layout's: <= 42 characters a line, <= 2 lines, 5/6 s to 7 s on screen, no two
cues overlapping and GAP_FRAMES between consecutive ones. A fresh run and a
run from the caches must write the same bytes.
"""

from __future__ import annotations

import filecmp
import itertools
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pysubs2
import pytest
import srt
import webvtt
from media_fixtures import CUT2, EVAL
from test_render_layout import _stm_scene

from sceneglot.cli import main
from sceneglot.render import burn
from sceneglot.render.layout import GAP_FRAMES, MAX_DURATION, MAX_LINE, MAX_LINES, MIN_DURATION
from tests import truth

FPS = 25.0


@dataclass
class ParsedCue:
    start: float
    end: float
    lines: list[str]


def parse_srt(path: Path) -> list[ParsedCue]:
    subs = list(srt.parse(path.read_text(encoding="utf-8"), ignore_errors=False))
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))
    return [ParsedCue(s.start.total_seconds(), s.end.total_seconds(), s.content.split("\n")) for s in subs]


def parse_vtt(path: Path) -> list[ParsedCue]:
    # .text drops the <v S0> voice span: what a player shows.
    return [ParsedCue(c.start_in_seconds + int(c.start[-3:]) / 1000, c.end_in_seconds + int(c.end[-3:]) / 1000,
                      c.text.split("\n")) for c in webvtt.read(str(path))]


def parse_ass(path: Path) -> list[ParsedCue]:
    """One ParsedCue per cue: a cue is written as touching events (source text, then its translation)."""
    subs = pysubs2.load(str(path))
    assert subs.info["PlayResX"] and subs.info["PlayResY"]
    out: list[ParsedCue] = []
    names: list[str] = []
    for ev in sorted((e for e in subs.events if e.type == "Dialogue"), key=lambda e: e.start):
        lines = ev.plaintext.split("\n")
        if r"\fs" in ev.text.split(r"\N")[0] and lines[0] == ev.name:
            lines = lines[1:]  # a bottom cue's name tag: a label above the text, not a line of it
        assert len(lines) <= MAX_LINES and all(len(s) <= MAX_LINE for s in lines), lines
        if out and names[-1] == ev.name and abs(out[-1].end - ev.start / 1000) < 1e-6:
            out[-1].end = ev.end / 1000
            continue
        out.append(ParsedCue(ev.start / 1000, ev.end / 1000, lines))
        names.append(ev.name)
    return out


PARSERS = {".srt": (parse_srt, 0.001), ".vtt": (parse_vtt, 0.001), ".ass": (parse_ass, 0.01)}


def check_file(path: Path, fps: float = FPS) -> list[ParsedCue]:
    """Parse with the independent parser for its kind and assert every layout rule; returns the cues."""
    parse, tick = PARSERS[path.suffix]
    cues = parse(path)
    assert cues, f"{path.name}: no cues"
    for c in cues:
        assert 1 <= len(c.lines) <= MAX_LINES, (path.name, c.lines)
        assert all(0 < len(s) <= MAX_LINE for s in c.lines), (path.name, c.lines)
        assert MIN_DURATION - tick <= c.end - c.start <= MAX_DURATION + tick, (path.name, c)
    for a, b in itertools.pairwise(sorted(cues, key=lambda c: c.start)):
        assert b.start >= a.end, f"{path.name}: cues overlap: {a} / {b}"
        assert b.start - a.end >= GAP_FRAMES / fps - tick, f"{path.name}: gap under {GAP_FRAMES} frames: {a} / {b}"
    return cues


# ---------------------------------------------------------------- the real pipeline on cut2


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """`translate cut2 --to pt -o` fresh, then again from its caches, then `transcribe` into the same job."""
    root = tmp_path_factory.mktemp("subtitle-files")
    out = root / "out.mp4"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCENEGLOT_HOME", str(root / "home"))
        argv = ["translate", str(CUT2), "--to", "pt", "--translator", "bergamot", "-o", str(out)]
        assert main(argv) == 0
        fresh = root / "fresh"
        fresh.mkdir()
        for f in root.glob("out.*"):
            if f.is_file():
                shutil.copy2(f, fresh / f.name)
        shutil.copytree(root / "out.sceneglot", fresh / "out.sceneglot")
        assert main(argv) == 0  # every stage from its cache now
        shutil.copytree(root / "out.sceneglot", root / "cached")  # before transcribe adds to the folder
        assert main(["transcribe", str(CUT2), "--artifacts", str(root / "out.sceneglot")]) == 0
    return root


@pytest.mark.slow
def test_fresh_and_cached_runs_write_identical_files(job):
    fresh = sorted(p.name for p in (job / "fresh").iterdir() if p.is_file())
    assert fresh == ["out.ass", "out.en.srt", "out.en.vtt", "out.mp4", "out.pt.srt", "out.pt.vtt"]
    for name in fresh:
        assert filecmp.cmp(job / "fresh" / name, job / name, shallow=False), f"{name} differs between runs"
    # The job folder too: scene.json, job.json, the RTTM, its own copy of the video and subtitle files.
    folder = sorted(p.name for p in (job / "fresh" / "out.sceneglot").iterdir())
    assert {"scene.json", "job.json", "diarization.rttm", "out.mp4", "out.en.srt"} <= set(folder)
    for name in folder:
        assert filecmp.cmp(job / "fresh" / "out.sceneglot" / name, job / "cached" / name, shallow=False), \
            f"job folder's {name} differs between runs"


@pytest.mark.slow
def test_every_subtitle_file_the_pipeline_writes_parses_and_keeps_the_rules(job):
    files = sorted([*job.glob("out.*"), *(job / "out.sceneglot").iterdir()])
    files = [f for f in files if f.suffix in PARSERS]
    assert {f.name for f in files} == {"out.ass", "out.en.srt", "out.en.vtt", "out.pt.srt", "out.pt.vtt",
                                       "transcript.srt", "transcript.vtt"}
    parsed = {f.name: check_file(f) for f in files}
    # One set of rules: the text files show the same lines at the same times as the video's ASS.
    en_srt = [(round(c.start, 2), round(c.end, 2), [s.split(": ", 1)[-1] for s in c.lines[:1]] + c.lines[1:])
              for c in parsed["out.en.srt"]]
    en_vtt = [(round(c.start, 2), round(c.end, 2), c.lines) for c in parsed["out.en.vtt"]]
    assert en_srt == en_vtt
    assert [c.start for c in parsed["out.ass"]] == pytest.approx([c.start for c in parsed["out.en.srt"]], abs=0.01)
    # The transcript's cues are timed for the source alone (the video's also leave time to read the translation).
    # Its speakers are the audio diarization's (`transcribe` sees no faces) while the video's come from the
    # audio-visual attribution, so the "S0:" labels may differ; the words may not.
    words = [[w for w in " ".join(" ".join(c.lines) for c in parsed[n]).split() if not re.fullmatch(r"S\d+:", w)]
             for n in ("transcript.srt", "out.en.srt")]
    assert words[0] == words[1]


# ---------------------------------------------------------------- the writers on known scenes (no models)


def _scenes():
    for name in ("cut2", "twoshot", "dialogue"):
        yield name, truth.scene_from_truth(EVAL / "scenes" / f"{name}.json", truth.PHRASES.get(name, []) or [
            ("Where were you when the lights went out last night?", "Onde você estava quando a luz acabou ontem?"),
            ("I was at home, reading by candlelight, like everyone else on the street.",
             "Eu estava em casa, lendo à luz de velas, como todo mundo na rua."),
        ])
    stm = _stm_scene()  # real overlapping speech: two speakers talking over each other
    yield "stm", stm


@pytest.mark.parametrize("name,scene", list(_scenes()), ids=lambda v: v if isinstance(v, str) else "")
def test_writers_keep_the_rules_on_real_phrases(name, scene, tmp_path):
    out = tmp_path / f"{name}.mp4"
    texts = burn.export_texts(scene, burn.Painter(scene).cues, out)
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
        check_file(path, scene.media.fps or FPS)


def test_no_speech_means_no_subtitle_files_rather_than_empty_ones(tmp_path):
    scene = truth.scene_from_truth(EVAL / "scenes" / "twoshot.json", [])
    assert not scene.segments
    assert burn.export_texts(scene, burn.Painter(scene).cues, tmp_path / "out.mp4") == {}
