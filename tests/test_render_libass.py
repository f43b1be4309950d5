"""The exported .ass really plays: libass (through FFmpeg's `ass` filter) draws each
phrase in its speaker's colour where sceneglot placed it."""

from __future__ import annotations

import re
import subprocess

import numpy as np

from sceneglot import media
from sceneglot.render.ass import to_ass
from sceneglot.render.burn import Painter
from tests import truth
from tests.media_fixtures import EVAL
from tests.tools import need_ffmpeg_filter

TWOSHOT = EVAL / "scenes" / "twoshot.mp4"


def frame_at(t: float, vf: str | None = None) -> np.ndarray:
    cmd = [need_ffmpeg_filter("ass"), "-hide_banner", "-loglevel", "error", "-i", str(TWOSHOT), "-ss", f"{t:.3f}"]
    cmd += (["-vf", vf] if vf else []) + ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout
    return np.frombuffer(raw, np.uint8).reshape(720, 1280, 3)


def test_libass_draws_each_event_in_the_speakers_colour_at_its_position(tmp_path):
    scene = truth.scene_from_truth(EVAL / "scenes" / "twoshot.json", truth.PHRASES["twoshot"])
    painter = Painter(scene)
    ass_file = tmp_path / "subs.ass"
    ass_file.write_text(to_ass(scene, painter.cues, 1280, 720), encoding="utf-8")
    events = [line.split(",", 9) for line in ass_file.read_text().splitlines() if line.startswith("Dialogue:")]
    assert events
    checked = 0
    for fields in events[:4]:
        start = sum(float(p) * m for p, m in zip(fields[1].split(":"), (3600, 60, 1), strict=True))
        end = sum(float(p) * m for p, m in zip(fields[2].split(":"), (3600, 60, 1), strict=True))
        t = (start + end) / 2
        x, y = map(int, re.search(r"\\(?:pos|move)\((\d+),(\d+)", fields[9]).groups())
        plain, subbed = frame_at(t), frame_at(t, f"ass={ass_file}")
        changed = np.abs(subbed.astype(int) - plain.astype(int)).sum(axis=2) > 60
        ys, xs = np.nonzero(changed)
        assert len(xs) > 300, "libass drew nothing"
        # \an8: the text hangs below (x, y), centred on x
        assert abs(np.median(xs) - x) < 200 and 0 <= np.median(ys) - y < 120
        # glyph bodies in this speaker's colour (the rest of the change is outline and antialiasing),
        # and none in the other speaker's colour
        drawn = subbed[changed].astype(int)
        for speaker, rgb in painter.colors.items():
            in_colour = int((np.abs(drawn - np.array(rgb)).sum(axis=1) < 90).sum())
            if speaker == fields[3]:
                assert in_colour > 300, "text is not in the speaker's colour"
            else:
                assert in_colour < 20, "text drawn in another speaker's colour"
        checked += 1
    assert checked == min(4, len(events))
    assert media.probe(TWOSHOT).duration > 0  # the input is untouched and still readable
