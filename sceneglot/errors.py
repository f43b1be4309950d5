"""Errors that the CLI turns into one line on stderr and an exit code.

Anything the user can fix (a bad path, a broken file, a missing model package)
is raised as a `SceneglotError`; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SceneglotError(Exception):
    """A problem the user can act on. `exit_code` is what the CLI returns."""

    exit_code = 1


class InputError(SceneglotError):
    """The input or output path is unusable (missing, unreadable, not media, ...)."""

    exit_code = 2


class ModelError(SceneglotError):
    """A model's files are missing or do not match their recorded sha256."""

    exit_code = 3


class BackendError(SceneglotError):
    """An external backend (translation service, ...) failed or is not configured."""

    exit_code = 4
