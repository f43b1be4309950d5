"""Text of every script renders (real glyphs, right order, shaped), and cues land in the speaker's colour."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sceneglot import media
from sceneglot.render import effects, fonts
from sceneglot.render.burn import Painter
from sceneglot.render.draw import Renderer, blend, color, visual_runs
from tests import truth
from tests.media_fixtures import EVAL

SAMPLES = {
    "pl": "Zażółć gęślą jaźń",
    "ru": "Съешь же ещё этих булок",
    "el": "Γαζέες καὶ μυρτιὲς",
    "zh": "我们每天都学到新东西",
    "ja": "こんにちは、世界",
    "ko": "안녕하세요 여러분",
    "ar": "مرحبا بالعالم",
    "he": "שלום עולם",
    "hi": "नमस्ते दुनिया",
    "th": "สวัสดีครับ",
}


@pytest.fixture(scope="module")
def renderer():
    return Renderer(720)


def _ink(lines, renderer, rgb=(255, 255, 255)) -> np.ndarray:
    """Mask of text pixels (the fill colour, not the plate) of a block drawn on black."""
    w, h = renderer.measure(lines, len(lines), False)
    patch = renderer.block(lines, rgb, w, h)
    frame = np.zeros((h, w, 3), np.uint8)
    blend(frame, patch, 0, 0)
    return frame.min(axis=2) > 150


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_every_script_has_real_glyphs(lang, renderer):
    text = SAMPLES[lang]
    for ch in text:
        if not ch.isspace():
            face = fonts.face_for(ch, lang)
            assert face is not None and face.covers(ch), (lang, ch)
    ink = _ink([text], renderer)
    assert ink.sum() > 300
    # Distinct letters give distinct pictures: missing glyphs would all be the same box.
    letters = [c for c in dict.fromkeys(text) if c.isalpha()][:2]
    a, b = (_ink([c], renderer) for c in letters)
    assert a.sum() > 10 and b.sum() > 10
    if a.shape == b.shape:
        assert (a != b).sum() > 10


def _x_of(word: str, line: str, renderer: Renderer) -> int:
    """Where `word` (drawn alone) is found inside `line` (drawn whole): template matching on ink."""
    big = cv2.GaussianBlur(_ink([line], renderer).astype(np.float32), (5, 5), 1.5)
    small = cv2.GaussianBlur(_ink([word], renderer).astype(np.float32), (5, 5), 1.5)
    ys, xs = np.nonzero(small > 0.2)
    tmpl = small[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    res = cv2.matchTemplate(big, tmpl, cv2.TM_CCOEFF_NORMED)
    assert res.max() > 0.75, res.max()  # the word is there, shaped as on its own
    return int(np.unravel_index(res.argmax(), res.shape)[1])


@pytest.mark.parametrize("line", [SAMPLES["he"], SAMPLES["ar"]])
def test_rtl_runs_read_right_to_left(line, renderer):
    first, second = line.split()
    assert _x_of(first, line, renderer) > _x_of(second, line, renderer)


def test_mixed_latin_and_arabic_order(renderer):
    runs, base = visual_runs("Hi مرحبا بالعالم")
    assert base == "ltr" and runs[0][0].startswith("Hi")
    line = "Hi مرحبا بالعالم"
    # The Latin word stays left; inside the Arabic run the first word is on the right.
    assert _x_of("Hi", line, renderer) < _x_of("بالعالم", line, renderer) < _x_of("مرحبا", line, renderer)
    runs, base = visual_runs("שלום ABC עולם")
    assert base == "rtl" and runs[0][0].strip() == "עולם"


def test_arabic_is_shaped(renderer):
    # Joined (initial + final) forms are narrower than two isolated letters side by side.
    assert renderer.line_width("بب") < 2 * renderer.line_width("ب") * 0.85


def test_palette_is_distinct_for_many_speakers():
    cols = [color(i) for i in range(24)]
    assert len(set(cols)) == 24
    for i, a in enumerate(cols):
        assert max(a) >= 200  # bright enough on the dark plate
        for b in cols[i + 1 : i + 4]:
            assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) > 60


def _speaker_pixels(image: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    bgr = np.array(rgb[::-1], np.int16)
    return (np.abs(image.astype(np.int16) - bgr).max(axis=2) < tol)


@pytest.mark.parametrize("name,t", [("twoshot", 3.5), ("twoshot", 7.0), ("cut2", 2.4), ("cut2", 8.6)])
def test_text_in_speaker_colour_near_the_face(name, t):
    scene = truth.scene_from_truth(EVAL / "scenes" / f"{name}.json", truth.PHRASES[name])
    painter = Painter(scene)
    frame = next(media.iter_frames(scene.media.path, start=t))
    clean = frame.image.copy()
    image = painter.paint(frame.image.copy(), frame.time)
    (cue,) = painter.visible(frame.time)
    rgb = painter.colors[cue.speaker]
    fx0, fy0, fx1, fy1 = cue.face_at(frame.time)
    changed = np.abs(image.astype(np.int16) - clean).max(axis=2) > 0
    hits = _speaker_pixels(image, rgb) & changed
    ys, xs = np.nonzero(hits)
    assert len(xs) > 500
    # Text pixels lie within the speaker's face box grown by 10% of the frame.
    m = 0.1 * scene.media.height
    assert np.all((xs > fx0 - m) & (xs < fx1 + m) & (ys > fy0 - m) & (ys < fy1 + m))
    # The other speakers' colours are absent.
    for sid, other in painter.colors.items():
        if sid != cue.speaker:
            assert (_speaker_pixels(image, other, 25) & changed).sum() < 50
    # Only the text block and the face brackets changed.
    x, y = cue.at(frame.time)
    block = np.zeros_like(changed)
    block[max(0, y) : y + cue.height, max(0, x) : x + cue.width] = True
    outside = changed & ~block
    ys, xs = np.nonzero(outside)
    assert np.all((xs > fx0 - 12) & (xs < fx1 + 12) & (ys > fy0 - 12) & (ys < fy1 + 12))


def test_effect_types_then_decodes_into_translation():
    scene = truth.scene_from_truth(EVAL / "scenes" / "twoshot.json", truth.PHRASES["twoshot"])
    cue = Painter(scene).cues[0]
    tl = effects.timeline(cue)
    assert cue.start < tl.typed < tl.decode_start < tl.decoded < cue.end
    early, phase = effects.visible_lines(cue, cue.start + 0.3 * (tl.typed - cue.start))
    assert phase == "type"
    typed = "".join(early).replace(effects.CURSOR, "")
    assert 0 < len(typed) < len("".join(cue.lines)) and "".join(cue.lines).replace(" ", "").startswith(
        typed.replace(" ", ""))
    assert effects.visible_lines(cue, (tl.typed + tl.decode_start) / 2) == (cue.lines, "source")
    mid, phase = effects.visible_lines(cue, (tl.decode_start + tl.decoded) / 2)
    assert phase == "decode" and mid != cue.lines and mid != cue.target_lines
    assert effects.visible_lines(cue, cue.end - 0.05) == (cue.target_lines, "target")
    # Without a translation the source types out and stays.
    scene.segments[0].translation = None
    cue = Painter(scene).cues[0]
    assert effects.visible_lines(cue, cue.end - 0.05) == (cue.lines, "source")


@pytest.mark.parametrize("lang,translation", [
    ("ar", "نحن نعمل على هذا المشروع منذ ما يقرب من ثلاث سنوات"),
    ("ja", "私たちはこのプロジェクトにほぼ三年間取り組んできました。"),
    ("hi", "हम लगभग तीन वर्षों से इस परियोजना पर काम कर रहे हैं।"),
])
def test_any_target_script_renders_through_the_painter(lang, translation):
    scene = truth.scene_from_truth(EVAL / "scenes" / "twoshot.json", truth.PHRASES["twoshot"][:1],
                                   target_language=lang)
    scene.segments[0].translation = translation
    painter = Painter(scene)
    cue = painter.cues[0]
    assert cue.target_lines and all(layout_width(s) <= 42 for s in cue.target_lines)
    t = cue.end - 0.1
    assert effects.visible_lines(cue, t)[1] == "target"
    frame = next(media.iter_frames(scene.media.path, start=t))
    clean = frame.image.copy()
    image = painter.paint(frame.image.copy(), frame.time)
    x, y = cue.at(frame.time)
    block = image[y : y + cue.height, x : x + cue.width]
    rgb = painter.colors[cue.speaker]
    ink = (np.abs(block.astype(np.int16) - np.array(rgb[::-1], np.int16)).max(axis=2) < 40).sum()
    assert ink > 800
    assert np.array_equal(image[:, 700:], clean[:, 700:])  # nothing drawn on the other speaker's side


def layout_width(text: str) -> int:
    from sceneglot.render.layout import text_width

    return text_width(text)
