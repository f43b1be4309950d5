"""Safe output paths: outputs appear whole or not at all, and never replace the input."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


def check_output_path(output: str | os.PathLike, *inputs: str | os.PathLike) -> Path:
    """Refuse an output that would overwrite an input or land in an unwritable place."""
    out = Path(output)
    if out.exists() and out.is_dir():
        raise InputError(f"output path is a directory: {out}")
    for src in inputs:
        src_path = Path(src)
        if src_path.exists() and out.exists() and os.path.samefile(out, src_path):
            raise InputError(f"output path is the input file: {out}")
        if out.resolve() == src_path.resolve():
            raise InputError(f"output path is the input file: {out}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output directory does not exist: {parent}")
    try:  # access() says yes to root even on read-only or virtual filesystems: try for real
        fd, probe = tempfile.mkstemp(prefix=".sceneglot-write-test-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"output directory is not writable: {parent} ({exc.strerror})") from None
    return out


def _temporary_sibling(out: Path) -> Path:
    """Create an empty, unique file beside `out` with the mode any new file gets (0666 less the umask).

    The kernel applies the umask itself at O_CREAT, so nothing reads or changes the
    process-wide umask (which other threads' files would see).
    """
    for _ in range(100):
        tmp = out.with_name(f".{out.stem}.{secrets.token_hex(6)}.part{out.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {out}")


@contextlib.contextmanager
def atomic_path(output: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `output` only if the block succeeds.

    The temporary name keeps the suffix so that format-sniffing writers (PyAV,
    Pillow) pick the right container.
    """
    out = Path(output)
    tmp = _temporary_sibling(out)
    try:
        yield tmp
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(output: str | os.PathLike, text: str) -> Path:
    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(output)
