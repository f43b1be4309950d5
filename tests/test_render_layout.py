"""Subtitle timing and placement rules, checked on real transcripts and the shared scenes' truth."""

from __future__ import annotations

import itertools

import pytest

from sceneglot.render import layout
from sceneglot.render.layout import (
    GAP_FRAMES,
    MAX_CPS,
    MAX_DURATION,
    MAX_LINE,
    MAX_LINES,
    MIN_DURATION,
    break_lines,
    make_cues,
    reading_chars,
    text_width,
)
from sceneglot.scene import MediaInfo, Scene, Segment, Speaker
from tests import truth
from tests.media_fixtures import EVAL

SCENES = EVAL / "scenes"


def _stm_scene() -> Scene:
    """The diarization sample's real transcript (13 phrases, two speakers, with times)."""
    rows = (EVAL / "diarization" / "sample.stm").read_text(encoding="utf-8").splitlines()
    names = sorted({r.split()[2] for r in rows})
    sid = {n: f"S{i}" for i, n in enumerate(names)}
    segs = []
    for i, row in enumerate(rows):
        parts = row.split(maxsplit=5)
        segs.append(Segment(i, float(parts[3]), float(parts[4]), parts[5], speaker=sid[parts[2]], language="en"))
    media = MediaInfo(path="sample.wav", duration=30.0, fps=25.0, width=1280, height=720, has_audio=True)
    return Scene(media=media, speakers=[Speaker(s) for s in sid.values()], segments=segs)


def _jfk_scene() -> Scene:
    """One long real sentence (11 s of speech) that must be cut into readable pieces."""
    text = (EVAL / "speech" / "jfk.txt").read_text(encoding="utf-8").strip()
    pt = ("E assim, meus compatriotas americanos, não perguntem o que o seu país pode fazer por vocês, "
          "perguntem o que vocês podem fazer pelo seu país.")
    media = MediaInfo(path="jfk.flac", duration=11.0, fps=25.0, width=1280, height=720, has_audio=True)
    return Scene(media=media, speakers=[Speaker("S0")],
                 segments=[Segment(0, 0.3, 10.6, text, speaker="S0", language="en", translation=pt)])


def _check_rules(scene: Scene) -> list[layout.Cue]:
    spoken = {s.id: s for s in scene.segments}
    cues = make_cues(scene)

    def speech_start(cue) -> float:  # the cue's first word, or its phrase's start
        seg = spoken[cue.segment]
        first = cue.text.split()[0]
        return next((w.start for w in seg.words if w.text.strip() == first), seg.start)

    assert cues
    fps = scene.media.fps
    for c in cues:
        for lines in (c.lines, c.target_lines or []):
            assert 1 <= len(lines) <= MAX_LINES or not lines, lines
            assert all(text_width(s) <= MAX_LINE for s in lines), lines
        d = c.end - c.start
        assert MIN_DURATION - 1e-3 <= d <= MAX_DURATION + 1e-3, (c.text, d)
    # One timeline for all speakers: no two cues overlap, GAP_FRAMES between consecutive ones.
    gap = GAP_FRAMES / fps
    for a, b in itertools.pairwise(sorted(cues, key=lambda c: c.start)):
        assert b.start - a.end >= gap - 1e-3, (a.text, b.text)
    # Reading speed holds unless the cue is boxed in: it starts as soon as the one before allows and
    # ends where the next one (or the video) needs it to, i.e. the speech is too dense for 17 cps.
    for i, c in enumerate(cues):
        if reading_chars(c.text, c.translation) / (c.end - c.start) <= MAX_CPS + 0.05:
            continue
        earliest = max(speech_start(c), cues[i - 1].end + gap if i else 0.0)
        boundary = cues[i + 1].start - gap if i + 1 < len(cues) else scene.media.duration
        assert c.start <= earliest + 1e-3 and c.end >= boundary - 1e-3, (c.text, c.start, c.end)
    return cues


def test_rules_hold_on_real_transcript():
    scene = _stm_scene()
    cues = _check_rules(scene)
    # Nothing is lost: every word of the transcript is in some cue, in order.
    assert " ".join(c.text for c in cues).split() == " ".join(s.text for s in scene.segments).split()


def test_long_sentence_is_split_at_clauses_and_translation_follows():
    scene = _jfk_scene()
    cues = _check_rules(scene)
    assert len(cues) >= 2
    assert " ".join(c.text for c in cues).split() == scene.segments[0].text.split()
    assert " ".join(c.translation for c in cues).split() == scene.segments[0].translation.split()
    # The first cut falls after a comma, not in the middle of a clause.
    assert cues[0].text.endswith(",")


@pytest.mark.parametrize("name", ["cut2", "twoshot"])
def test_rules_hold_on_scene_phrases(name):
    _check_rules(truth.scene_from_truth(SCENES / f"{name}.json", truth.PHRASES[name]))


def test_break_lines_balances_and_handles_unspaced_scripts():
    lines = break_lines("We have been working on this project for almost three years now.")
    assert len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) < 12
    cjk = break_lines("我们已经在这个项目上工作了将近三年，每天都学到新的东西。")
    assert len(cjk) == 2 and all(text_width(s) <= MAX_LINE for s in cjk)
    assert "".join(cjk) == "我们已经在这个项目上工作了将近三年，每天都学到新的东西。"


def _rects(cue: layout.Cue):
    return [(t, x, y, x + cue.width, y + cue.height) for t, x, y in cue.path]


@pytest.mark.parametrize("name", ["cut2", "twoshot"])
def test_placement_near_face_inside_frame_no_overlap(name):
    scene = truth.scene_from_truth(SCENES / f"{name}.json", truth.PHRASES[name])
    W, H = scene.media.width, scene.media.height
    cues = layout.layout(scene)
    for c in cues:
        assert len(c.path) and not c.tagged  # every speaker is on screen in these scenes
        for t, x0, y0, x1, y1 in _rects(c):
            assert x0 >= 0 and y0 >= 0 and x1 <= W and y1 <= H
            fx0, fy0, fx1, fy1 = c.face_at(t)
            # Touching or inside the speaker's face box, give or take a margin.
            assert x0 < fx1 + 40 and fx0 - 40 < x1 and y0 < fy1 + 40 and fy0 - 40 < y1
    for a in cues:
        for b in cues:
            if a is b:
                continue
            rb = {round(r[0], 3): r for r in _rects(b)}
            for t, x0, y0, x1, y1 in _rects(a):
                r = rb.get(round(t, 3))
                if r:
                    assert x1 <= r[1] or r[3] <= x0 or y1 <= r[2] or r[4] <= y0


def test_twoshot_subtitle_stays_on_its_speakers_side():
    scene = truth.scene_from_truth(SCENES / "twoshot.json", truth.PHRASES["twoshot"])
    cues = layout.layout(scene)
    left, right = cues[0], cues[1]
    assert all(x + left.width / 2 < 640 for _, x, _ in left.path)
    assert all(x + right.width / 2 > 640 for _, x, _ in right.path)


def test_off_screen_speaker_falls_back_to_bottom_with_name_tag():
    scene = truth.scene_from_truth(SCENES / "twoshot.json", truth.PHRASES["twoshot"])
    scene.segments[1].person = None
    scene.speakers[1].name = "Narrator"
    cues = layout.layout(scene)
    off = [c for c in cues if c.segment == 1]
    assert off and all(c.tagged and c.placement == "bottom" and c.name == "Narrator" for c in off)
    assert all(y + c.height > scene.media.height * 0.75 for c in off for _, _, y in c.path)


def test_following_is_smooth_on_a_jittery_track():
    scene = truth.scene_from_truth(SCENES / "twoshot.json", truth.PHRASES["twoshot"])
    import random

    rnd = random.Random(0)
    tr = next(t for t in scene.tracks if t.person == scene.segments[0].person)
    for row in tr.boxes:  # detector noise of +-6 px, plus a slow drift to the right
        drift = 40 * row[0] / 4.5
        for k in (1, 3):
            row[k] += drift + rnd.uniform(-6, 6)
        for k in (2, 4):
            row[k] += rnd.uniform(-6, 6)
    cue = layout.layout(scene)[0]
    xs = [x for _, x, _ in cue.path]
    steps = [abs(b - a) for a, b in itertools.pairwise(xs)]
    assert max(steps) <= 3  # no frame-to-frame jitter
    assert xs[-1] - xs[0] > 15  # but the drift is followed


@pytest.mark.slow
def test_small_frames_keep_the_speaking_face_visible(tmp_path):
    """cut2 at 160x120 with its faces found by the real detector: no plate hides the face of who speaks."""
    from sceneglot import media
    from sceneglot.render.draw import Renderer
    from sceneglot.vision import analyze_faces

    small = tmp_path / "small.mp4"
    with media.VideoWriter(small, 25, 160, 120, audio_from=SCENES / "cut2.mp4") as writer:
        for frame in media.iter_frames(SCENES / "cut2.mp4", size=(160, 120)):
            writer.write(frame.image)
    faces = analyze_faces(small)
    assert len(faces.tracks) >= 4
    base = truth.scene_from_truth(SCENES / "cut2.json", truth.PHRASES["cut2"])
    for seg in base.segments:  # each phrase is said by the face on screen at its middle (one face per shot)
        mid = (seg.start + seg.end) / 2
        seg.person = next(t.person for t in faces.tracks if t.start <= mid <= t.end)
    scene = Scene(media=media.probe(small), source_language="en", target_language="pt", speakers=base.speakers,
                  persons=faces.persons, tracks=faces.tracks, segments=base.segments)
    cues = layout.layout(scene, Renderer(120, "pt").measure)
    assert len(cues) == 4
    for c in cues:
        for t, x, y in c.path:
            assert x >= 0 and x + c.width <= 160 and y >= 0 and y + c.height <= 120
            f = c.face_at(t)
            assert f is not None
            ix = max(0, min(x + c.width, f[2]) - max(x, f[0]))
            iy = max(0, min(y + c.height, f[3]) - max(y, f[1]))
            assert ix * iy < 0.05 * (f[2] - f[0]) * (f[3] - f[1]), (c.text, t, (x, y, c.width, c.height), f)
