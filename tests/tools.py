"""Tools the suite needs from the system: a missing one fails the test that needs it, with the reason (never a skip).

scripts/setup.sh installs them (Debian packages from scripts/debian-packages.txt, Python ones from requirements.txt).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest


def need(command: str, why: str) -> str:
    """The path of `command`, or a failed test saying what is missing and what installs it."""
    path = shutil.which(command)
    if path is None:
        pytest.fail(f"{command} is not installed ({why}); scripts/setup.sh installs it from "
                    "scripts/debian-packages.txt", pytrace=False)
    return path


def need_ffmpeg_filter(name: str) -> str:
    """ffmpeg with the filter `name` (libass's "ass", say)."""
    ffmpeg = need("ffmpeg", f"the {name} filter checks exported subtitles")
    listed = subprocess.run([ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=60).stdout
    if not any(line.split()[1:2] == [name] for line in listed.splitlines() if len(line.split()) > 1):
        pytest.fail(f"ffmpeg at {ffmpeg} lacks the {name!r} filter (build it with libass)", pytrace=False)
    return ffmpeg
