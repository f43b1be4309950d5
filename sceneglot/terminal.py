"""What reaches the user's terminal besides a command's own output: warnings.

Third-party libraries warn about things a user cannot act on (scipy, torch,
onnxruntime deprecations...). A command keeps them off the terminal unless
`--verbose`; sceneglot's own `media.DamageWarning`s are merged into one line
per file, printed when the command ends, since a damaged stretch is met by
every stage that decodes the file.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def warnings_to_terminal(verbose: bool = False) -> Iterator[None]:
    """Inside: library warnings shown only with `verbose`; damage collected, then one line per file."""
    from .media import DamageWarning

    damage: dict[str, list[DamageWarning]] = {}
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if isinstance(message, DamageWarning):
            damage.setdefault(message.path, []).append(message)
        elif verbose:
            print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always" if verbose else "ignore")
        warnings.simplefilter("always", DamageWarning)
        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = shown
            for path, found in damage.items():
                print(f"sceneglot: warning: {damage_line(path, found)}", file=sys.stderr)


def damage_line(path: str, found: list) -> str:
    """'damaged video and audio in X between 6.29 s and 6.44 s: skipped, the rest was read'."""
    kinds = sorted({w.kind for w in found}, key=lambda k: k != "video")
    start, end = min(w.start for w in found), max(w.end for w in found)
    return (f"damaged {' and '.join(kinds)} in {Path(path).name} between {start:.2f} s and {end:.2f} s: "
            f"skipped, the rest was read")
