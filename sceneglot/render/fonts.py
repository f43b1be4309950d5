"""Per-script font fallback from the fonts installed by registry packages, found through fontconfig.

No font path is written in the code: `fc-list` enumerates what Debian's
fonts-noto-core / fonts-noto-cjk (or any other installed package) provide,
with each face's character coverage, and each character is drawn with the best
face that covers it: a bold "Noto Sans <Script>" face first (one design for
every script), any other sans face next, anything that covers it last.
"""

from __future__ import annotations

import bisect
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from functools import cache, cached_property

from PIL import ImageFont

from ..errors import InputError

# Family suffixes that carry the CJK regional glyph forms, by language code.
_CJK_REGION = {"ja": "JP", "ko": "KR", "zh": "SC", "zh-cn": "SC", "zh-tw": "TC", "zh-hk": "HK"}


@dataclass(frozen=True)
class FontFace:
    """One installed face; its coverage (`charset`, fontconfig's hex ranges) is parsed on first use.

    Most of the few hundred installed faces are never asked about: `face_for` tries them best first,
    and parsing every charset up front cost ~0.3 CPU-s in each process that draws text.
    """

    file: str
    index: int
    family: str
    style: str
    charset: str = field(repr=False, compare=False)

    @cached_property
    def ranges(self) -> tuple[list[int], list[int]]:
        """(starts, ends) of the sorted code point ranges."""
        pairs = _parse_charset(self.charset)
        return [a for a, _ in pairs], [b for _, b in pairs]

    def covers(self, ch: str) -> bool:
        starts, ends = self.ranges
        cp = ord(ch)
        i = bisect.bisect_right(starts, cp) - 1
        return i >= 0 and cp <= ends[i]


def _parse_charset(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split():
        a, _, b = part.partition("-")
        try:
            out.append((int(a, 16), int(b or a, 16)))
        except ValueError:
            continue
    return tuple(sorted(out))


@cache
def installed() -> tuple[FontFace, ...]:
    """Every scalable face fontconfig knows, with its coverage (one `fc-list` call per process)."""
    if shutil.which("fc-list") is None:
        raise InputError("fontconfig's fc-list is missing: install the Debian packages in scripts/debian-packages.txt")
    fmt = "%{file}\\t%{index}\\t%{family[0]}\\t%{style[0]}\\t%{charset}\\n"
    res = subprocess.run(["fc-list", ":scalable=true", "-f", fmt], capture_output=True, text=True, check=False)
    faces = []
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 5 or not parts[0].lower().endswith((".ttf", ".otf", ".ttc")):
            continue
        faces.append(FontFace(parts[0], int(parts[1] or 0), parts[2], parts[3], parts[4]))
    if not faces:
        raise InputError("no fonts found by fontconfig: install fonts-noto-core and fonts-noto-cjk (Debian)")
    return tuple(sorted(faces, key=lambda f: (f.file, f.index)))


def _rank(face: FontFace, lang: str | None) -> tuple:
    fam, style = face.family, face.style.lower()
    noto_sans = fam.startswith("Noto Sans") and "Mono" not in fam and "Display" not in fam
    region = _CJK_REGION.get((lang or "").lower()) or _CJK_REGION.get((lang or "").lower()[:2]) or "SC"
    return (
        0 if noto_sans else 1 if "Noto" in fam else 2,
        0 if style == "bold" else 1 if "bold" in style and "semi" not in style else 2,
        0 if "CJK" not in fam or fam.endswith(region) else 1,
        " UI" in fam,  # UI variants squeeze vertical metrics
        len(fam),  # "Noto Sans" before "Noto Sans Symbols"
        fam,
        face.index,
    )


def _script_lang(ch: str) -> str | None:
    """Kana and Hangul decide the CJK region by themselves."""
    name = unicodedata.name(ch, "")
    return "ja" if name.startswith(("HIRAGANA", "KATAKANA")) else "ko" if name.startswith("HANGUL") else None


@cache
def _ranked(lang: str | None) -> tuple[FontFace, ...]:
    """Every installed face, best first for `lang` (a stable sort: equal ranks keep `installed`'s order)."""
    return tuple(sorted(installed(), key=lambda f: _rank(f, lang)))


@cache
def face_for(ch: str, lang: str | None = None) -> FontFace | None:
    """Best installed face for one character, or None when no font has it."""
    lang = _script_lang(ch) or lang
    return next((f for f in _ranked(lang) if f.covers(ch)), None)


@cache
def primary(lang: str | None = None) -> FontFace:
    face = face_for("A", lang)
    if face is None:
        raise InputError("no font covers Latin text: install fonts-noto-core (Debian)")
    return face


@cache
def load(face: FontFace, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(face.file, size, index=face.index, layout_engine=ImageFont.Layout.RAQM)


def _neutral(ch: str) -> bool:
    """Spaces, marks and common punctuation go with the run around them."""
    cat = unicodedata.category(ch)
    return cat[0] in "ZMP" or cat in ("Cf", "Sk") or ch.isdigit()


def runs(text: str, lang: str | None = None) -> list[tuple[str, FontFace]]:
    """Split text into (substring, face) runs in logical order, one face per run.

    A character stays in the current run when the current face covers it, so
    shaping engines see whole words; a new face starts only where needed.
    """
    out: list[tuple[str, FontFace]] = []
    base = primary(lang)
    for ch in text:
        cur = out[-1][1] if out else None
        if cur is not None and cur.covers(ch) and (_neutral(ch) or cur == (face_for(ch, lang) or cur)):
            out[-1] = (out[-1][0] + ch, cur)
            continue
        face = face_for(ch, lang) or base
        if cur is not None and (face == cur or (_neutral(ch) and cur.covers(ch))):
            out[-1] = (out[-1][0] + ch, cur)
        else:
            out.append((ch, face))
    return out
