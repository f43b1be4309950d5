"""What a job command tells the user: notes on stderr as it goes, one summary on stdout at the end.

The summary is the command's result: a line of counts, then every file the
run wrote, one per line (what a script captures from stdout). Notes are single
lines on stderr: which audio stream is heard when a file has several, and that
no speech was found.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ..scene import MediaInfo, Scene


def note(text: str) -> None:
    print(f"sceneglot: {text}", file=sys.stderr)


def audio_stream_note(info: MediaInfo) -> None:
    """With several audio streams, one line naming the one the job listens to."""
    if info.audio_streams < 2 or info.audio_stream is None:
        return
    from ..media import audio_label

    note(f"listening to audio stream {info.audio_stream} of 0-{info.audio_streams - 1} "
         f"({audio_label(info.path, info.audio_stream)}); --audio-stream N picks another")


def no_speech_note(scene: Scene, video: bool) -> bool:
    """One line when nothing was said: no subtitle files (an SRT without cues is no SRT); True if so."""
    if any(s.text.strip() for s in scene.segments):
        return False
    note(f"no speech found in {Path(scene.media.path).name}: no subtitle files written"
         + ("; the video is written without subtitles" if video else ""))
    return True


def summary(headline: str, files: Mapping[str, os.PathLike | str] | Iterable[os.PathLike | str]) -> None:
    """The run's one summary on stdout: the headline, then each file written (absolute, sorted, no repeats)."""
    paths = files.values() if isinstance(files, Mapping) else files
    seen = sorted({str(Path(p).absolute()) for p in paths if p and Path(p).is_file()})
    print("\n".join([headline, *(f"  {p}" for p in seen)]))


@contextlib.contextmanager
def job_folder_kept_only_with_results(folder: os.PathLike | str) -> Iterator[None]:
    """A run that fails before anything is cached leaves no job folder behind (job.json alone is no result).

    An interrupted run (Ctrl-C, cancel) keeps its folder: the user means to resume it.
    """
    from ..errors import SceneglotError
    from ..jobs import Cancelled

    path = Path(folder)
    existed = path.exists()
    try:
        yield
    except SceneglotError as exc:
        if not isinstance(exc, Cancelled) and not existed and path.is_dir():
            names = {p.name for p in path.iterdir()}
            if names <= {"job.json"}:
                with contextlib.suppress(OSError):
                    for name in names:
                        (path / name).unlink()
                    path.rmdir()
        raise
