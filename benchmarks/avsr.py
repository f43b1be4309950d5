"""Audio-visual speech recognition benchmark: the visible speaker's words with and without the picture.

    python benchmarks/avsr.py [--skip-wer] [--skip-speed]

For each GRID clip (../shared/eval/lips, sentence in refs.tsv) two inputs:
- clean: the clip as it is;
- off-screen voice: another recording (jfk.flac, diarization/sample.wav pieces), scaled to the
  GRID voice's loudness (RMS over voiced parts), plays before and after the GRID sentence while
  the speaker stays on screen, silent (the clip's first 0.48 s, before any speech, played forwards
  and backwards so the face keeps its small natural movements).
WER counts the visible speaker's words only (the GRID sentence is the reference):
audio-only = every Whisper word; audio-visual = the words `sceneglot avsr` keeps.
Both use Whisper with language "en" (GRID is English), so they differ only in the picture.

Speed: frames/s of mouth ROI (YuNet, refinement, smoothing, crop) + the LRW ensemble (one
29-frame window per 29 frames), with deterministic random weights (the real ones cost the same),
on each engine. Timings on a shared machine are inflated by other jobs' load.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402

from sceneglot import media  # noqa: E402
from sceneglot.speech import vad  # noqa: E402
from sceneglot.speech.metrics import wer  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
LIPS = EVAL / "lips"
# Off-screen voices (file, start s, end s): whole phrases from other English recordings.
VOICES = [
    (EVAL / "speech" / "jfk.flac", 0.0, 2.5),
    (EVAL / "speech" / "jfk.flac", 5.2, 7.9),
    (EVAL / "diarization" / "sample.wav", 7.5, 10.5),
    (EVAL / "speech" / "jfk.flac", 8.0, 10.8),
    (EVAL / "diarization" / "sample.wav", 21.7, 24.7),
    (EVAL / "diarization" / "sample.wav", 12.0, 15.0),
]
GAP = 0.4  # s of silence between the off-screen voice and the visible speaker
SILENT_FRAMES = 12  # the GRID clips' first 0.48 s: before every clip's first speech (>= 0.49 s)


def refs() -> dict[str, str]:
    rows = (line.split("\t") for line in (LIPS / "refs.tsv").read_text().splitlines() if line.strip())
    return {name: text for name, text in rows}


def _rms_voiced(audio: np.ndarray) -> float:
    regions = vad.speech_regions(audio)
    parts = [audio[int(s * 16000):int(e * 16000)] for s, e in regions] or [audio]
    return float(np.sqrt(np.mean(np.concatenate(parts) ** 2)))


def _voice(k: int, loudness: float) -> np.ndarray:
    path, start, end = VOICES[k % len(VOICES)]
    piece = media.read_audio(path)[int(start * 16000):int(end * 16000)]
    return (piece * (loudness / _rms_voiced(piece))).astype(np.float32)


def offscreen_clip(clip: Path, k: int, out: Path) -> tuple[float, float]:
    """Write the off-screen-voice version of `clip`; returns where the GRID part starts and ends (s)."""
    frames = [f.image for f in media.iter_frames(clip, fps=25)]
    grid_audio = media.read_audio(clip)[:len(frames) * 640]
    loud = _rms_voiced(grid_audio)
    before, after = _voice(2 * k, loud), _voice(2 * k + 1, loud)
    n_before = int(np.ceil((len(before) / 16000 + GAP) * 25))
    n_after = int(np.ceil((len(after) / 16000 + GAP) * 25))
    cycle = frames[:SILENT_FRAMES] + frames[SILENT_FRAMES - 2:0:-1]  # forwards then backwards

    def silent(n: int) -> list[np.ndarray]:
        return [cycle[i % len(cycle)] for i in range(n)]

    video = silent(n_before) + frames + silent(n_after)
    sound = np.zeros(len(video) * 640, np.float32)
    sound[:len(before)] = before
    g0 = n_before * 640
    sound[g0:g0 + len(grid_audio)] = grid_audio
    a0 = (n_before + len(frames)) * 640 + int(GAP * 16000)
    sound[a0:a0 + len(after)] = after[:len(sound) - a0]
    _write(out, video, sound)
    return n_before / 25, (n_before + len(frames)) / 25


def _write(path: Path, video: list[np.ndarray], sound: np.ndarray) -> None:
    """H.264 + FLAC in Matroska: lossless sound, so only the mix differs from the sources."""
    h, w = video[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.options = {"crf": "18", "preset": "veryfast"}
        a = out.add_stream("flac", rate=16000)
        a.layout = "mono"
        for i, img in enumerate(video):
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        pcm = np.clip(np.round(sound * 32767), -32768, 32767).astype(np.int16)
        for start in range(0, len(pcm), 1600):
            af = av.AudioFrame.from_ndarray(pcm[None, start:start + 1600], format="s16", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, start, Fraction(1, 16000)
            out.mux(a.encode(af))
        out.mux(a.encode(None))


def wer_table() -> None:
    from sceneglot.avsr import recognize

    truth = refs()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, ref) in enumerate(sorted(truth.items())):
            clip = LIPS / name
            mixed = Path(tmp) / f"{clip.stem}-offscreen.mkv"
            offscreen_clip(clip, k, mixed)
            for kind, path in (("clean", clip), ("off-screen voice", mixed)):
                res = recognize.recognise_file(path, language="en")
                heard = " ".join(w.text for w in res.words)
                seen = " ".join(w.text for w in res.visible)
                rows.append((kind, name, wer(ref, heard), wer(ref, seen), heard, seen))
    print("\n| input | clip | WER audio-only | WER audio-visual | Whisper heard | kept as the visible speaker's |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, name, a, v, heard, seen in rows:
        print(f"| {kind} | {name} | {a:.1%} | {v:.1%} | {heard} | {seen} |")
    for kind in ("clean", "off-screen voice"):
        sel = [r for r in rows if r[0] == kind]
        a, v = np.mean([r[2] for r in sel]), np.mean([r[3] for r in sel])
        print(f"| {kind} | mean of {len(sel)} | {a:.1%} | {v:.1%} | | |")


def speed_table() -> None:
    import torch

    from sceneglot.avsr import lrw, network, roi

    clip = sorted(LIPS.glob("*.mpg"))[0]
    frames = [f.image for f in media.iter_frames(clip, fps=25)]
    audio = media.read_audio(clip)
    tracker = roi.MouthTracker()
    mouths = tracker.push(0, frames[0])  # YuNet loads here, outside the timing
    t, c = time.perf_counter(), time.process_time()
    for i, img in enumerate(frames[1:], 1):
        mouths += tracker.push(i, img)
    mouths += tracker.flush()
    roi_wall = (time.perf_counter() - t) / (len(frames) - 1)
    roi_cpu = (time.process_time() - c) / (len(frames) - 1)
    crops = np.stack([m.crop for m in mouths])
    cores = os.cpu_count() or 1
    print(f"\nROI (YuNet every {roi.DETECT_EVERY} frames, refinement, smoothing, warp) on {clip.name}: "
          f"{roi_wall * 1000:.1f} ms/frame wall, {roi_cpu * 1000:.1f} ms CPU; {cores} cores, load average "
          f"{os.getloadavg()[0]:.1f} (shared with other jobs)")
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        ens = network.Ensemble(network.randomised(network.VideoModel("prelu"), 1),
                               network.randomised(network.AudioModel("prelu"), 2), lrw.VIDEO_WEIGHT)
        path = lrw.export(ens, Path(tmp) / "ensemble.onnx")
        video_in = roi.network_input(crops[:29])
        audio_in = lrw.audio_input(audio[:29 * 640])
        print("\nOne 29-frame window per 29 frames. 'wall' is what this loaded machine gave; 'CPU' counts the\n"
              "process's CPU seconds over all its threads: frames per CPU-second is the rate on one core\n"
              "the process has to itself (more cores only add to it).\n")
        print("| engine | ensemble ms/window wall | ensemble CPU ms/window | ROI + ensemble frames/s wall "
              "| ROI + ensemble frames per CPU-second |")
        print("| --- | --- | --- | --- | --- |")
        for kind in lrw.ENGINES:
            runner = lrw.Runner(path, kind)
            runner(video_in, audio_in)
            walls, cpus = [], []
            for _ in range(5):
                t, c = time.perf_counter(), time.process_time()
                runner(video_in, audio_in)
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
            net_wall, net_cpu = float(np.median(walls)), float(np.median(cpus))
            wall_fps = 29 / (29 * roi_wall + net_wall)
            cpu_fps = 29 / (29 * roi_cpu + net_cpu)
            print(f"| {kind} | {net_wall * 1000:.0f} | {net_cpu * 1000:.0f} | {wall_fps:.1f} | {cpu_fps:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-wer", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("SCENEGLOT_QUIET", "1")
    if not args.skip_wer:
        wer_table()
    if not args.skip_speed:
        speed_table()


if __name__ == "__main__":
    main()
