"""Advanced SubStation Alpha (ASS v4+) export: one style per speaker, each cue placed near its face.

The file plays in mpv/VLC and burns with libass (`ffmpeg -vf ass=...`). Each
cue becomes up to two events: the source text until the decode starts, then
the translation, both at the renderer's position (\\move when the face moved).
"""

from __future__ import annotations

from ..scene import Scene
from . import effects, fonts
from .draw import UNKNOWN, Style, cue_speakers, speaker_colors
from .layout import Cue, font_px

_STYLE_FORMAT = ("Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
                 "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
                 "Alignment, MarginL, MarginR, MarginV, Encoding")
_EVENT_FORMAT = "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"


def ass_time(t: float) -> str:
    cs = max(0, round(t * 100))
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    s, c = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}"


def ass_color(rgb: tuple[int, int, int], alpha: int = 0) -> str:
    """&HAABBGGRR, alpha 0 = opaque."""
    r, g, b = rgb
    return f"&H{alpha:02X}{b:02X}{g:02X}{r:02X}"


def _escape(text: str) -> str:
    # Braces open override blocks and a backslash starts a tag: neither may pass through.
    return text.replace("\\", "\u29f5").replace("{", "(").replace("}", ")").replace("\n", " ")


def _style_name(speaker: str | None) -> str:
    return (speaker or "Default").replace(",", "_")


def to_ass(scene: Scene, cues: list[Cue], width: int, height: int) -> str:
    """The whole .ass file as text (PlayRes = the video's size, so positions are in video pixels)."""
    ids = cue_speakers(scene, cues)
    colors = speaker_colors(ids)
    size = font_px(height)
    st = Style(size)
    family = fonts.primary(scene.target_language).family
    out = [
        "[Script Info]",
        "; written by sceneglot",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 2",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        f"Format: {_STYLE_FORMAT}",
    ]
    margin = max(4, round(height * 0.02))
    for name, rgb in [("Default", UNKNOWN), *((s, colors[s]) for s in ids)]:
        out.append(
            f"Style: {_style_name(name)},{family},{size},{ass_color(rgb)},{ass_color(rgb)},"
            f"{ass_color((0, 0, 0))},{ass_color((8, 10, 18), 0x60)},-1,0,0,0,100,100,0,0,1,"
            f"{max(1, round(size / 14))},0,2,{margin},{margin},{margin},1"
        )
    out += ["", "[Events]", f"Format: {_EVENT_FORMAT}"]
    for cue in sorted(cues, key=lambda c: c.start):
        tl = effects.timeline(cue)
        style = _style_name(cue.speaker if cue.speaker in colors else None)
        phases = [(cue.start, tl.decode_start if cue.target_lines else cue.end, cue.lines)]
        if cue.target_lines:
            phases.append((tl.decode_start, cue.end, cue.target_lines))
        tag = f"{{\\fs{st.tag_size}}}{_escape(cue.name)}\\N{{\\fs{size}}}" if cue.tagged and cue.name else ""
        for a, b, lines in phases:
            if b - a < 0.01 or not len(cue.path):
                continue
            pos = _position(cue, a, b, st)
            text = "\\N".join(_escape(s) for s in lines)
            out.append(f"Dialogue: 0,{ass_time(a)},{ass_time(b)},{style},{_escape(cue.name)},0,0,0,,"
                       f"{{\\an8{pos}}}{tag}{text}")
    return "\n".join(out) + "\n"


def _position(cue: Cue, a: float, b: float, st: Style) -> str:
    """\\pos at the block's top centre, or \\move when the block travels more than a few pixels."""
    x0, y0 = cue.at(a)
    x1, y1 = cue.at(b)
    cx0, cy0 = x0 + cue.width // 2, y0 + st.pad_y
    cx1, cy1 = x1 + cue.width // 2, y1 + st.pad_y
    if abs(cx1 - cx0) + abs(cy1 - cy0) <= 4:
        return f"\\pos({cx0},{cy0})"
    return f"\\move({cx0},{cy0},{cx1},{cy1})"
