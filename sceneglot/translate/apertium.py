"""Offline rule-based en<->es/ca/gl with Debian's `apertium` and its language-pair packages.

Pairs are discovered from `apertium -l` (mode names such as eng-spa, en-gl),
so installing another apertium-XX-YY package adds it without code changes.
Sentences go through one process call, one per line; Apertium keeps lines.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from ..errors import BackendError
from .base import BackendInfo, Request, check_aligned, norm_lang

DEBIAN = "apertium apertium-eng-spa apertium-eng-cat apertium-en-gl"
_THREE = {"eng": "en", "spa": "es", "cat": "ca", "glg": "gl", "por": "pt", "fra": "fr", "ita": "it",
          "deu": "de", "oci": "oc", "arg": "an", "eus": "eu", "ron": "ro", "nob": "nb", "nno": "nn"}


def _code(part: str) -> str:
    return _THREE.get(part, norm_lang(part))


@functools.cache
def modes() -> dict[tuple[str, str], str]:
    """(source, target) -> apertium mode name, for the installed pairs (plain variants only)."""
    exe = shutil.which("apertium")
    if exe is None:
        return {}
    try:
        listing = subprocess.run([exe, "-l"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[tuple[str, str], str] = {}
    for line in listing.split():
        if "_" in line or line.count("-") != 1:
            continue  # regional/orthographic variants (eng-cat_valencia, spa-eng_US)
        src, tgt = line.split("-")
        found.setdefault((_code(src), _code(tgt)), line)
    return found


class ApertiumTranslator:
    name = "apertium"
    variant = "3"
    uses_context = False
    batch_size = 64

    def __init__(self, **_options) -> None:
        pass

    def info(self) -> BackendInfo:
        pairs = modes()
        if not pairs:
            return BackendInfo(self.name, False, "en<->es/ca/gl", offline=True,
                               how=f"apt-get install {DEBIAN}")
        desc = ", ".join(f"{s}->{t}" for s, t in sorted(pairs))
        return BackendInfo(self.name, True, desc, offline=True, note="rule-based")

    def supports(self, source: str, target: str) -> bool:
        return (source, target) in modes()

    def translate(self, request: Request) -> list[str]:
        mode = modes().get((request.source, request.target))
        if mode is None:
            raise BackendError(f"apertium has no {request.source}->{request.target} pair: apt-get install {DEBIAN}")
        texts = [" ".join(p.text.split()) for p in request.phrases]
        out = self._run(mode, "\n".join(texts)).split("\n")
        if len(out) != len(texts):  # a line merged or split: fall back to one call per sentence
            out = [self._run(mode, t) for t in texts]
        return check_aligned(self.name, request, [" ".join(o.split()) for o in out])

    @staticmethod
    def _run(mode: str, text: str) -> str:
        try:
            done = subprocess.run(["apertium", "-u", mode], input=text + "\n", capture_output=True, text=True,
                                  timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BackendError(f"apertium {mode} failed: {exc}") from None
        if done.returncode != 0:
            raise BackendError(f"apertium {mode} failed: {done.stderr.strip()[:200]}")
        return done.stdout.rstrip("\n")
