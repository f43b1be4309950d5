"""Burn-in on a real clip: audio and duration kept, text in the speaker's colour, subtitle files beside it."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from sceneglot import media
from sceneglot.cli import main
from sceneglot.errors import InputError
from sceneglot.render import burn
from sceneglot.render.ass import ass_color, to_ass
from sceneglot.render.burn import Painter
from sceneglot.scene import save
from tests import truth
from tests.media_fixtures import EVAL

TWOSHOT = EVAL / "scenes" / "twoshot.mp4"


@pytest.fixture(scope="module")
def scene():
    return truth.scene_from_truth(EVAL / "scenes" / "twoshot.json", truth.PHRASES["twoshot"])


@pytest.fixture(scope="module")
def burned(scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("burn") / "out.mp4"
    burn.burn(scene, TWOSHOT, out)
    return out


@pytest.mark.slow
def test_burn_keeps_audio_duration_and_frames(burned):
    src, dst = media.probe(TWOSHOT), media.probe(burned)
    assert dst.has_audio and dst.audio_codec == src.audio_codec
    assert abs(dst.duration - src.duration) < 0.1
    assert (dst.width, dst.height, round(dst.fps)) == (src.width, src.height, round(src.fps))
    assert sum(1 for _ in media.iter_frames(burned)) == sum(1 for _ in media.iter_frames(TWOSHOT))


@pytest.mark.slow
@pytest.mark.parametrize("t", [3.6, 7.2])
def test_burned_text_in_speaker_colour_near_face(scene, burned, t):
    painter = Painter(scene)
    (cue,) = painter.visible(t)
    rgb = painter.colors[cue.speaker]
    frame = next(media.iter_frames(burned, start=t))
    src = next(media.iter_frames(TWOSHOT, start=t))
    bgr = np.array(rgb[::-1], np.int16)
    near = np.abs(frame.image.astype(np.int16) - bgr).max(axis=2) < 60
    changed = np.abs(frame.image.astype(np.int16) - src.image).max(axis=2) > 40
    ys, xs = np.nonzero(near & changed)
    assert len(xs) > 400
    x0, _, x1, y1 = cue.face_at(t)
    assert np.median(xs) > x0 and np.median(xs) < x1 and np.median(ys) < y1


@pytest.mark.slow
def test_exports_written_beside_the_video(scene, burned):
    base = burned.with_suffix("")
    en, pt = base.with_suffix(".en.srt"), base.with_suffix(".pt.srt")
    assert en.exists() and pt.exists() and base.with_suffix(".en.vtt").exists()
    assert base.with_suffix(".pt.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    cues = Painter(scene).cues
    assert en.read_text(encoding="utf-8").count(" --> ") == len(cues)
    assert "Estamos trabalhando" in pt.read_text(encoding="utf-8")
    assert "We have been working" in en.read_text(encoding="utf-8")
    assert burned.with_suffix(".ass").exists()


def test_subtitle_names_name_each_language_once(scene, tmp_path):
    """The job folder's INPUT.pt.mp4 (or -o cut2.pt.mp4) gets cut2.pt.srt, not cut2.pt.pt.srt; the web's
    output.mp4 keeps output.LANG.srt; a name part that is no language of the job is left alone."""
    assert (scene.source_language, scene.target_language) == ("en", "pt")

    def names(video: str, s=scene) -> dict[str, str]:
        return {k: p.name for k, p in burn.export_paths(tmp_path / video, s).items()}

    assert names("cut2.pt.mp4") == {"source_srt": "cut2.en.srt", "source_vtt": "cut2.en.vtt", "ass": "cut2.pt.ass",
                                    "target_srt": "cut2.pt.srt", "target_vtt": "cut2.pt.vtt"}
    assert names("output.mp4") == {"source_srt": "output.en.srt", "source_vtt": "output.en.vtt", "ass": "output.ass",
                                   "target_srt": "output.pt.srt", "target_vtt": "output.pt.vtt"}
    assert names("talk.en.mp4")["source_srt"] == "talk.en.srt" and names("talk.en.mp4")["target_srt"] == "talk.pt.srt"
    assert names("v1.2.de.mp4")["target_srt"] == "v1.2.de.pt.srt"
    untranslated = dataclasses.replace(scene, segments=[dataclasses.replace(s, translation=None)
                                                        for s in scene.segments], target_language=None)
    assert names("cut2.en.mp4", untranslated) == {"source_srt": "cut2.en.srt", "source_vtt": "cut2.en.vtt",
                                                  "ass": "cut2.en.ass"}
    same = dataclasses.replace(scene, target_language="en")  # translated into the language it is in
    assert names("cut2.en.mp4", same)["target_srt"] == "cut2.en.translated.srt"
    assert names("cut2.en.mp4", same)["source_srt"] == "cut2.en.srt"


def test_ass_has_one_style_per_speaker_and_positions_near_faces(scene):
    painter = Painter(scene)
    text = to_ass(scene, painter.cues, 1280, 720)
    assert "PlayResX: 1280" in text and "PlayResY: 720" in text
    for sp in scene.speakers:
        assert re.search(rf"^Style: {sp.id},[^,]+,\d+,{re.escape(ass_color(painter.colors[sp.id]))},", text, re.M)
    events = [line for line in text.splitlines() if line.startswith("Dialogue:")]
    assert len(events) == 2 * len(painter.cues)  # source, then translation
    for line in events:
        fields = line.split(",", 9)
        style = fields[3]
        x, y = map(int, re.search(r"\\pos\((\d+),(\d+)\)", fields[9]).groups())
        assert 0 <= x <= 1280 and 0 <= y <= 720
        cue = next(c for c in painter.cues if c.speaker == style)
        fx0, _, fx1, _ = cue.face[0][1:]
        assert fx0 <= x <= fx1  # horizontally over the speaker
    assert "Estamos trabalhando neste\\Nprojeto há quase três anos." in text


def test_bad_inputs_leave_nothing(scene, tmp_path):
    with pytest.raises(InputError):
        burn.burn(scene, TWOSHOT, tmp_path / "out.avi")
    with pytest.raises(InputError, match="scene is for 1280x720"):
        burn.burn(scene, sorted((EVAL / "lips").glob("*.mpg"))[0], tmp_path / "out.mp4")
    with pytest.raises(InputError):
        burn.burn(scene, tmp_path / "missing.mp4", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_preview_command_writes_a_frame(scene, tmp_path, capsys):
    scene_path = tmp_path / "scene.json"
    save(scene, scene_path)
    out = tmp_path / "frame.png"
    assert main(["preview", str(TWOSHOT), "--at", "3.5", "-o", str(out), "--scene", str(scene_path)]) == 0
    import cv2

    img = cv2.imread(str(out))
    assert img.shape == (720, 1280, 3)
    rgb = Painter(scene).colors["S0"]
    near = np.abs(img.astype(np.int16) - np.array(rgb[::-1], np.int16)).max(axis=2) < 30
    assert near[:, :640].sum() > 500 and near[:, 660:].sum() < 100  # (brackets reach x = 640 + 2)
    assert main(["preview", str(TWOSHOT), "--at", "99", "-o", str(tmp_path / "x.png"), "--scene",
                 str(scene_path)]) == 2
    assert "outside the video" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_a_damaged_source_burns_to_a_full_length_video(tmp_path):
    """cut2 with 20 KB of garbage mid-file: every frame slot is written (the lost one held), the audio kept."""
    from test_media import damaged_copy

    src = damaged_copy(tmp_path / "damaged.mp4")
    scene = truth.scene_from_truth(EVAL / "scenes" / "cut2.json", truth.PHRASES["cut2"], video_path=src)
    out = tmp_path / "out.mp4"
    with pytest.warns(media.DamageWarning, match="damaged video"):
        burn.burn(scene, src, out)
    info = media.probe(out)
    assert info.frame_count == 320 and info.has_audio
    assert abs(info.duration - 12.8) < 0.05
