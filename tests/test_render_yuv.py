"""The renderer draws in YUV: frames without text reach the encoder as decoded, overlays are reused while
nothing changes, the YUV blend equals the RGB drawing, decode runs ahead in a thread, and each quality
gives the encoder its own settings."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

from sceneglot import media
from sceneglot.render import burn, quality, yuv
from sceneglot.render.burn import Block, Painter, YuvPainter
from tests import truth
from tests.media_fixtures import EVAL

TWOSHOT = EVAL / "scenes" / "twoshot.mp4"


@pytest.fixture(scope="module")
def scene():
    return truth.scene_from_truth(EVAL / "scenes" / "twoshot.json", truth.PHRASES["twoshot"])


@pytest.fixture(scope="module")
def painter(scene):
    return Painter(scene)


def _frame_at(path, t: float) -> av.VideoFrame:
    return next(f for f in media.iter_frames(path, raw=True) if f.time >= t - 1e-6).image


def _video_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_without_text_every_frame_goes_to_the_encoder_as_decoded(scene, tmp_path):
    """No cues: the burned video is byte for byte a plain encode of the decoded frames (no colour round trip)."""
    empty = Painter(scene, cues=[])
    out = burn.render_video(empty, TWOSHOT, tmp_path / "burned.mp4")
    info = media.probe(TWOSHOT)
    with media.VideoWriter(tmp_path / "plain.mp4", info.fps, info.width, info.height) as w:
        for frame in media.iter_frames(TWOSHOT, raw=True):
            w.write_frame(frame.image)
    assert out == info.frame_count
    assert _video_packets(tmp_path / "burned.mp4") == _video_packets(tmp_path / "plain.mp4")


def test_the_reused_canvas_encodes_as_a_fresh_frame_per_drawn_picture(painter, scene, tmp_path):
    """render_video copies drawn pictures into one reused frame: its video equals, packet for packet, an
    encode of the same drawing into a new frame per picture (no picture changes after the encoder got it)."""
    out = burn.render_video(painter, TWOSHOT, tmp_path / "burned.mp4")
    info = media.probe(TWOSHOT)
    over = YuvPainter(painter, info.width, info.height)
    drawn = 0
    with media.VideoWriter(tmp_path / "fresh.mp4", info.fps, info.width, info.height) as w:
        for frame in media.iter_frames(TWOSHOT, raw=True):
            picture, tiles = frame.image, over.tiles(frame.time)
            if tiles:
                picture = yuv.drawable(picture, info.width, info.height)  # a new frame each time
                planes = yuv.planes(picture)
                for tile in tiles:
                    yuv.blend(planes, tile)
                drawn += 1
            w.write_frame(picture)
    assert out == info.frame_count and drawn > 100
    assert _video_packets(tmp_path / "burned.mp4") == _video_packets(tmp_path / "fresh.mp4")
    canvas = yuv.drawable(_frame_at(TWOSHOT, 1.0), info.width, info.height)
    again = yuv.drawable(_frame_at(TWOSHOT, 5.0), info.width, info.height, canvas)
    assert again is canvas
    assert all((a == b).all() for a, b in zip(yuv.planes(again), yuv.planes(_frame_at(TWOSHOT, 5.0)), strict=True))


def test_the_overlay_is_reused_while_nothing_on_screen_changes(painter, scene):
    info = scene.media
    over = YuvPainter(painter, info.width, info.height)
    times = np.arange(0, info.duration, 1 / info.fps)
    reused = changed = 0
    last_elements, last_tiles = None, None
    for t in times:
        elements = painter.elements(float(t))
        tiles = over.tiles(float(t))
        if last_elements is not None and elements == last_elements:
            assert tiles is last_tiles  # the very same tiles: nothing was redrawn or converted
            reused += 1
        elif elements:
            changed += 1
        last_elements, last_tiles = elements, tiles
    # Typing and scrambling redraw; a settled translation and a still face keep their overlay.
    assert reused > 0 and changed > 0, (reused, changed)


def test_yuv_drawing_equals_the_rgb_drawing_within_rounding(painter, scene):
    """The same frame drawn in BGR (preview's path) and in YUV: equal once both are yuv420p."""
    info = scene.media
    t = next(float(t) for t in np.arange(0, info.duration, 1 / info.fps)
             if any(isinstance(e, Block) and not e.typing for e in painter.elements(float(t))))
    frame = _frame_at(TWOSHOT, t)
    bgr = painter.paint(frame.to_ndarray(format="bgr24"), frame.time)
    via_rgb = yuv.planes(av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p"))
    drawn = yuv.drawable(frame, info.width, info.height)
    planes = yuv.planes(drawn)
    for tile in YuvPainter(painter, info.width, info.height).tiles(frame.time):
        yuv.blend(planes, tile)
    untouched = yuv.planes(frame.reformat(format="yuv420p"))
    # The round trip through BGR alone moves pixels by a level or two: compare where the text is drawn.
    text = np.abs(via_rgb[0].astype(int) - untouched[0]) > 8
    assert text.sum() > 2000  # the subtitle is there
    luma = np.abs(planes[0].astype(int) - via_rgb[0])[text]
    assert np.percentile(luma, 99) <= 3 and luma.mean() < 1.0
    chroma_text = text[::2, ::2]
    for k in (1, 2):
        diff = np.abs(planes[k].astype(int) - via_rgb[k])[chroma_text]
        assert diff.mean() < 2.0, (k, diff.mean())


def test_decode_runs_ahead_in_a_thread_and_hands_on_its_errors():
    def frames():
        yield from range(3)
        raise ValueError("broken stream")

    got = []
    with pytest.raises(ValueError, match="broken stream"):
        for x in burn._ahead(frames(), depth=2):
            got.append(x)
    assert got == [0, 1, 2]
    seen = []
    ahead = burn._ahead(media.iter_frames(TWOSHOT, raw=True), depth=2)
    for frame in ahead:
        seen.append(frame.index)
        if len(seen) == 5:
            break
    ahead.close()  # a consumer that stops early stops the decoder thread
    assert seen == [0, 1, 2, 3, 4]
    assert not any(t.name == "sceneglot-decode" and t.is_alive() for t in threading.enumerate())


def _x264_settings(path) -> str:
    data = path.read_bytes()
    start = data.index(b"x264 - core")
    return data[start : data.index(b"\x00", start)].decode("latin-1")


@pytest.mark.parametrize(("name", "subme", "crf"), [("fast", "subme=1", "crf=21.0"),
                                                     ("balanced", "subme=2", "crf=20.0"),
                                                     ("best", "subme=8", "crf=18.0")])
def test_each_quality_reaches_the_encoder(name, subme, crf, tmp_path):
    encoders = quality.encoders(name, av.codecs_available, cuda=False)
    assert [e.codec for e in encoders] == ["libx264"]
    out = tmp_path / f"{name}.mp4"
    with media.VideoWriter(out, 25, 64, 48, encoders=encoders) as w:
        for k in range(10):
            w.write(np.full((48, 64, 3), 20 * k, np.uint8))
    settings = _x264_settings(out)  # x264 writes its settings into the stream
    assert subme in settings and crf in settings
    assert media.probe(out).video_codec == "h264"


def test_balanced_is_what_every_render_used_before():
    assert quality.DEFAULT == "balanced"
    assert dict(quality.encoders("balanced", av.codecs_available, cuda=False)[0].options) == {
        "crf": "20", "preset": "veryfast"}


def test_unknown_quality_is_refused_in_one_line(scene, tmp_path):
    from sceneglot.errors import InputError

    with pytest.raises(InputError, match="unknown quality 'ultra'"):
        burn.burn(scene, TWOSHOT, tmp_path / "out.mp4", quality="ultra")
    assert not list(tmp_path.iterdir())


def test_quality_is_a_job_setting_from_the_command_line_to_job_json(tmp_path):
    from sceneglot import jobs
    from sceneglot.cli import build_parser
    from sceneglot.commands import options

    args = build_parser("translate").parse_args(["translate", "in.mp4", "--to", "pt", "-o", "o.mp4",
                                                 "--quality", "fast"])
    job = jobs.Job(input="in.mp4", folder=str(tmp_path), render=options.render_settings(args))
    job.save()
    assert jobs.Job.load(tmp_path).render.quality == "fast"
    assert build_parser("render").parse_args(["render", "scene.json"]).quality is None  # re-render: the job's own
    older = job.to_dict()
    older["render"] = {"video": False, "preset": "veryfast"}  # job.json written before --quality existed
    assert jobs.Job.from_dict(older).render.quality == "balanced"


def _grey_video(path, size, rotation=None, pix_fmt="yuv420p", frames=50):
    from fractions import Fraction

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height = size
        v.pix_fmt = pix_fmt
        if rotation is not None:
            v.set_display_rotation(rotation)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 90, np.uint8), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize(("size", "rotation", "pix_fmt", "shown"),
                         [((320, 240), 90, "yuv420p", (240, 320)), ((321, 241), None, "yuv444p", (320, 240))])
def test_rotated_and_odd_sized_sources_are_drawn_upright_and_cropped(tmp_path, size, rotation, pix_fmt, shown):
    """The paths that cannot hand frames on as decoded: rotation metadata, odd sizes (cropped to even), 4:4:4."""
    from sceneglot.scene import Scene, Segment, Speaker

    src = _grey_video(tmp_path / "in.mp4", size, rotation, pix_fmt)
    info = media.probe(src)
    scene = Scene(media=info, speakers=[Speaker("S0")],
                  segments=[Segment(0, 0.2, 1.8, "Hello there", speaker="S0", translation="Olá")])
    out = tmp_path / "out.mp4"
    burn.burn(scene, src, out)
    frames = list(media.iter_frames(out))
    source = next(media.iter_frames(src)).image[: shown[1], : shown[0]].astype(int)
    assert len(frames) == 50
    assert frames[0].image.shape[:2] == (shown[1], shown[0])  # display-oriented, even size
    assert np.abs(frames[0].image.astype(int) - source).max() <= 6  # before the cue: the source's picture
    text = np.abs(frames[40].image.astype(int) - source).max(axis=2) > 40
    assert text.sum() > 300  # the subtitle is drawn while its cue is on screen
