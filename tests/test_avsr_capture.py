"""Synchronised (frame, audio) capture: files against media.py, and FFmpeg lavfi sources as a live camera + mic."""

import numpy as np
import pytest

from sceneglot import media
from sceneglot.avsr import capture
from sceneglot.errors import InputError
from tests.media_fixtures import GRID

# A black picture that turns white for 0.2 s at t = 1 s, and a tone over exactly the same 0.2 s.
FLASH = ("color=c=black:s=64x48:r=25[b];color=c=white:s=64x48:r=25[w];"
         "[b][w]overlay=enable='between(t,1,1.19)',realtime[out0];"
         "aevalsrc='if(between(t,1,1.19),0.5*sin(2*PI*440*t),0)':s=16000:d=3,arealtime[out1]")


def test_file_pairs_are_the_frames_and_the_soundtrack():
    pairs = list(capture.frames(GRID[0]))
    frames = list(media.iter_frames(GRID[0], fps=25))
    audio = media.read_audio(GRID[0])
    assert [p.index for p in pairs] == list(range(len(frames))) == list(range(75))
    assert all(p.audio.shape == (640,) and p.audio.dtype == np.float32 for p in pairs)
    assert all(np.array_equal(p.image, f.image) for p, f in zip(pairs, frames, strict=True))
    joined = np.concatenate([p.audio for p in pairs])
    assert np.array_equal(joined[:len(audio)], audio[:len(joined)])
    assert not joined[len(audio):].any()  # the last frame's period past the soundtrack is silence


def test_live_lavfi_source_keeps_picture_and_sound_in_step():
    pairs = []
    for p in capture.frames(device="lavfi:" + FLASH):
        pairs.append(p)
        if p.index == 49:
            break
    bright = np.array([p.image.mean() > 128 for p in pairs])
    loud = np.array([np.abs(p.audio).max() > 0.1 for p in pairs])
    assert np.flatnonzero(bright).tolist() == list(range(25, 30))  # frames 25-29 (t = 1.00-1.16 s)
    assert np.array_equal(bright, loud)
    # Real-time source: 50 frames arrive over about 2 s, not all at once.
    assert pairs[-1].arrived - pairs[0].arrived > 1.5


@pytest.mark.parametrize(("spec", "message"), [
    ("v4l2", "expected FORMAT:URL"),
    ("nosuchformat:x", "no input format"),
    ("lavfi:testsrc2=d=0.2", "no audio stream"),
    ("lavfi:nosuchfilter", "cannot read lavfi:nosuchfilter"),
])
def test_bad_device_is_one_line(spec, message):
    with pytest.raises(InputError, match=message):
        list(capture.frames(device=spec))


def test_opencv_audio_is_probed_and_honoured():
    ok, why = capture.opencv_audio()
    assert isinstance(ok, bool) and why.startswith("OpenCV ")
    if ok:
        pairs = list(capture.frames(GRID[0], backend="opencv"))
        assert len(pairs) == 75 and all(p.audio.shape == (640,) for p in pairs)
    else:
        with pytest.raises(InputError, match="VideoCapture"):
            list(capture.frames(GRID[0], backend="opencv"))


def test_device_specs_split_only_before_a_format():
    assert capture.split_devices("v4l2:/dev/video0+alsa:default") == ["v4l2:/dev/video0", "alsa:default"]
    graph = "lavfi:movie=a.mpg:s=dv+da[v][a];[v]null[out0];[a]anull[out1]"
    assert capture.split_devices(graph) == [graph]
