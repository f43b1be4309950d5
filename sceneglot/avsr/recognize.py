"""The visible speaker's words: Whisper hears every voice, Light-ASD says when the face on screen speaks.

Live, a word is the visible speaker's when a face's Light-ASD score, averaged
over the frames the word spans, says "speaking" (> 0, the network's own
boundary). Light-ASD alone is not enough: on the GRID faces it scores a silent
face at +1 to +2 while an off-screen voice talks (benchmarks/avsr.py), because
it judges one moment. So files go through the project's audio-visual
attribution (av.attribute: voices and faces decided together over the whole
clip, a voice-over heard while faces are on screen given no face), and a word
is kept where its phrase is attributed to a face on screen while it is said.
With the user's LRW checkpoints, each kept word's 29-frame window
around its centre also goes through the audio-visual word ensemble, whose
best LRW word and score are reported beside Whisper's.

Files run the project's stages (faces -> tracks -> Light-ASD); a live device
runs them on blocks cut at pauses in the speech (see `live`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .. import media
from ..scene import Word
from . import capture, lrw, roi

FPS = 25
WINDOW = 29  # frames per LRW word window


@dataclass
class SpokenWord:
    start: float
    end: float
    text: str
    probability: float
    face: str | None  # the track judged, None when no face is on screen
    speaking: float | None  # mean Light-ASD score over the word (> 0: speaking)
    visible: bool  # kept as the visible speaker's
    speaker: str | None = None  # diarized voice (files)
    lrw: str | None = None  # the LRW ensemble's word for the window around this one
    lrw_score: float | None = None  # its fused log-probability
    latency: float | None = None  # live only: seconds from the word's last frame arriving to it being printed


@dataclass
class Result:
    words: list[SpokenWord] = field(default_factory=list)
    asd: str = ""  # which active-speaker scorer ran
    frames: int = 0
    lrw: str = ""  # what the LRW step did, one line

    @property
    def visible(self) -> list[SpokenWord]:
        return [w for w in self.words if w.visible]


def speaking_score(scores: list[list[float]], start: float, end: float) -> float | None:
    """Mean score of the frames whose time falls in [start, end] (the nearest frame for a shorter word)."""
    if not scores:
        return None
    arr = np.asarray(scores, np.float64)
    inside = (arr[:, 0] >= start - 0.5 / FPS) & (arr[:, 0] <= end + 0.5 / FPS)
    if not inside.any():
        mid = (start + end) / 2
        nearest = int(np.argmin(np.abs(arr[:, 0] - mid)))
        if abs(arr[nearest, 0] - mid) > 1.0 / FPS:
            return None  # the face is not on screen then
        return float(arr[nearest, 1])
    return float(arr[inside, 1].mean())


def attribute(words: list[Word], tracks: dict[str, list[list[float]]]) -> list[SpokenWord]:
    """Each word with the on-screen face that speaks most while it is said; visible when that face speaks."""
    out = []
    for w in words:
        best, best_score = None, None
        for tid, scores in tracks.items():
            s = speaking_score(scores, w.start, w.end)
            if s is not None and (best_score is None or s > best_score):
                best, best_score = tid, s
        out.append(SpokenWord(w.start, w.end, w.text, w.probability, best, best_score,
                              best_score is not None and best_score > 0))
    return out


def transcribe(audio: np.ndarray, language: str | None = None) -> list[Word]:
    from ..speech import asr

    return [w for seg in asr.transcribe(audio, language=language) for w in seg.words]


def recognise_file(path, *, language: str | None = None, checkpoints: lrw.Checkpoints | None = None,
                   engine: str = "opencv", roi_video=None, asd_engine: str = "onnxruntime") -> Result:
    """Whisper words of a file, each marked visible or not; LRW words and the ROI video when asked."""
    from ..av import active_speakers
    from ..av import attribute as av_attribute
    from ..speech.pipeline import transcribe_with_turns
    from ..vision import analyze_faces

    info = media.require(media.probe(path), video=True, audio=True)
    audio = media.read_audio(path)
    scene, turns = transcribe_with_turns(path, language=language, info=info, audio=audio)
    faces = analyze_faces(path, info=info)
    asd = active_speakers(path, faces.tracks, engine=asd_engine, info=info, audio=audio)
    for tr in faces.tracks:
        tr.asd = [list(r) for r in asd.scores.get(tr.id, [])]
    scene.shots, scene.persons, scene.tracks = faces.shots, faces.persons, faces.tracks
    av_attribute.attribute(scene, audio, turns, asd.motion)  # phrases get speakers and persons
    spoken = []
    for seg in sorted(scene.segments, key=lambda s: s.start):
        own = {tr.id: asd.scores.get(tr.id, []) for tr in scene.tracks if seg.person and tr.person == seg.person}
        for w in seg.words:
            mine = attribute([w], own)[0] if own else None
            if mine is not None and mine.face is not None:  # the attributed face, on screen: kept
                mine.visible = True
            else:  # heard off screen: reported with the face that scores highest, not kept
                mine = attribute([w], asd.scores)[0]
                mine.visible = False
            mine.speaker = w.speaker
            spoken.append(mine)
    result = Result(spoken, asd.method, faces.frames)
    runner = None
    if checkpoints is not None:
        runner = lrw.Runner(lrw.onnx_path(checkpoints), engine)
    if runner is not None or roi_video:
        needed = {i for w in result.visible for i in range(*window((w.start + w.end) / 2))} if runner else set()
        mouths = _mouths(path, roi_video, needed)
        if runner is not None:
            for w in result.visible:
                _recognise_word(w, mouths, audio, runner, checkpoints.labels)
    result.lrw = lrw_status(checkpoints, engine)
    return result


def lrw_status(checkpoints: lrw.Checkpoints | None, engine: str) -> str:
    """One line: whether the LRW word ensemble runs, and on what."""
    if checkpoints is None:
        return "LRW lip-reading off: no checkpoints given (--lrw DIR with lrw_resnet18_mstcn_*.pth.tar + word list)"
    return f"LRW ensemble ({engine}) on each kept word's {WINDOW}-frame window"


def _mouths(path, roi_video, needed: set[int]) -> dict[int, np.ndarray]:
    """The mouth crops of the `needed` 25-fps frames; every crop goes to `roi_video` as it comes, when given.

    Frames before the first face, where there is no crop, are black in the video.
    """
    writer = media.VideoWriter(roi_video, FPS, roi.ROI_SIZE, roi.ROI_SIZE, audio_from=path) if roi_video else None
    tracker = roi.MouthTracker()
    crops: dict[int, np.ndarray] = {}
    blank = np.zeros((roi.ROI_SIZE, roi.ROI_SIZE, 3), np.uint8)
    written = 0

    def take(m: roi.Mouth) -> None:
        nonlocal written
        if m.index in needed:
            crops[m.index] = m.crop
        if writer is not None:
            for _ in range(written, m.index):
                writer.write(blank)
            writer.write(np.repeat(m.crop[:, :, None], 3, axis=2))
            written = m.index + 1

    try:
        for pair in capture.frames(path, fps=FPS):
            for m in tracker.push(pair.index, pair.image):
                take(m)
        for m in tracker.flush():
            take(m)
    except BaseException as exc:
        if writer is not None:
            writer.abort(exc)
        raise
    if writer is not None:
        writer.close()
    return crops


def window(centre: float, frames: int = WINDOW) -> tuple[int, int]:
    """First and last-plus-one 25-fps frame of the `frames`-frame window centred on a time."""
    first = max(0, round(centre * FPS) - frames // 2)
    return first, first + frames


def _recognise_word(w: SpokenWord, mouths: dict[int, np.ndarray], audio: np.ndarray, runner: lrw.Runner,
                    labels: list[str]) -> None:
    lo, hi = window((w.start + w.end) / 2)
    blank = np.zeros((roi.ROI_SIZE, roi.ROI_SIZE), np.uint8)
    crops = np.stack([mouths.get(i, blank) for i in range(lo, hi)])
    step = media.SAMPLE_RATE // FPS
    scores = runner(roi.network_input(crops), lrw.audio_input(audio[lo * step:hi * step]))
    best = int(np.argmax(scores))
    w.lrw, w.lrw_score = labels[best], round(float(scores[best]), 3)


# -- live ------------------------------------------------------------------------------------------------------


@dataclass
class _Frame:
    time: float
    arrived: float
    box: np.ndarray | None  # the biggest face, source pixels
    grey: np.ndarray


class Live:
    """Words of a live source, printed a block at a time: a block ends at a pause in speech (or after `longest` s).

    Each block's audio goes to Whisper, its frames to Light-ASD (112x112 face
    crops from YuNet's boxes + MFCC, the network the file path uses); words are
    then judged as for a file. Latency is measured from the arrival of a word's
    last frame to the word being handed over.
    """

    def __init__(self, language: str | None = None, asd_engine: str = "onnxruntime", pause: float = 0.5,
                 longest: float = 8.0, roi_video=None, runner: lrw.Runner | None = None,
                 labels: list[str] | None = None) -> None:
        from ..av import asd
        from ..speech import asr, vad

        self.language, self.pause, self.longest = language, pause, longest
        self.runner, self.labels = runner, labels
        self.writer = media.VideoWriter(roi_video, FPS, roi.ROI_SIZE, roi.ROI_SIZE) if roi_video else None
        self.mouth = roi.MouthTracker() if roi_video or runner else None
        self.mouths: dict[int, np.ndarray] = {}  # 25-fps frame index -> crop, for LRW windows
        self.engine = asd.Engine(asd_engine)
        # Load Whisper and the VAD before the first frame, so latency is the work, not the start-up.
        asr.load_model(asr.AsrOptions().model)
        vad.speech_regions(np.zeros(media.SAMPLE_RATE, np.float32))
        self.detector = None
        self.frames: list[_Frame] = []
        self.audio = np.zeros(0, np.float32)
        self.t0 = 0.0  # stream time of self.audio[0] and self.frames[0]
        self._checked = 0.0

    def run(self, pairs: Iterator[capture.AVFrame], emit: Callable[[SpokenWord], None]) -> None:
        """Until the source ends (or Ctrl-C, after which the ROI video is still closed properly)."""
        try:
            for pair in pairs:
                self.push(pair)
                for w in self.poll():
                    emit(w)
            if self.mouth is not None:
                for m in self.mouth.flush():
                    self._mouth(m)
            for w in self.poll(final=True):
                emit(w)
        finally:
            if self.writer is not None:
                self.writer.close()

    def _mouth(self, m: roi.Mouth) -> None:
        if self.writer is not None:
            self.writer.write(np.repeat(m.crop[:, :, None], 3, axis=2))
        if self.runner is not None:
            self.mouths[m.index] = m.crop

    def push(self, pair: capture.AVFrame) -> None:
        import cv2

        from ..vision.faces import FaceDetector

        if self.detector is None:
            self.detector = FaceDetector((pair.image.shape[1], pair.image.shape[0]))
        faces = self.detector.detect(pair.image)
        box = max(faces, key=lambda d: d.width).box if faces else None
        grey = cv2.cvtColor(pair.image, cv2.COLOR_BGR2GRAY)
        self.frames.append(_Frame(pair.time, pair.arrived, box, grey))
        if self.mouth is not None:
            for m in self.mouth.push(pair.index, pair.image, grey, faces=faces):
                self._mouth(m)
        self.audio = np.concatenate([self.audio, pair.audio])

    def poll(self, final: bool = False) -> list[SpokenWord]:
        """Words of the finished blocks (every word left when `final`)."""
        from ..speech import vad

        held = len(self.audio) / media.SAMPLE_RATE
        if not final and held - self._checked < 0.5:
            return []
        self._checked = held
        regions = vad.speech_regions(self.audio)
        if final:
            cut = held
        elif regions and held - regions[-1][1] >= self.pause:
            cut = regions[-1][1] + self.pause / 2  # speech has stopped
        elif held >= self.longest:
            cut = held  # no pause yet: a word may be split, but the wait stays bounded
        else:
            return []
        if not regions:
            self._drop(cut)
            return []
        return self._block(cut)

    def _block(self, cut: float) -> list[SpokenWord]:
        from ..av import asd, features

        n = min(len(self.frames), round(cut * FPS))
        audio = self.audio[:n * (media.SAMPLE_RATE // FPS)]
        words = transcribe(audio, self.language)
        frames = self.frames[:n]
        seen = [i for i, f in enumerate(frames) if f.box is not None]
        scores: dict[str, list[list[float]]] = {}
        if seen:
            boxes = [[f.time - self.t0, *f.box] for f in frames if f.box is not None]
            geo = features.geometry(boxes, boxes[0][0], boxes[-1][0])
            first = round(geo.times[0] * FPS)
            crops = np.stack([features.crop_face(frames[first + i].grey, geo.x[i], geo.y[i], geo.s[i])
                              for i in range(len(geo.times)) if first + i < n])
            mfcc = features.mfcc(audio[first * (media.SAMPLE_RATE // FPS):])
            k = min(len(crops), len(mfcc) // features.STEPS_PER_FRAME)
            if k:
                raw = self.engine(mfcc[:k * features.STEPS_PER_FRAME], crops[:k])[:, 1]
                scores["face"] = [[float(t), float(s)] for t, s in zip(geo.times[:k], asd.smooth(raw), strict=True)]
        out = attribute(words, scores)
        if self.runner is not None:
            base = round(self.t0 * FPS)
            for w in out:
                if w.visible:
                    self._lrw_word(w, base, audio)
        now = time.perf_counter()
        for w in out:
            last = min(n - 1, int(w.end * FPS))
            w.latency = round(now - frames[last].arrived, 3)
            w.start, w.end = round(w.start + self.t0, 3), round(w.end + self.t0, 3)
        self._drop(n / FPS)
        return out

    def _lrw_word(self, w: SpokenWord, base: int, audio: np.ndarray) -> None:
        """The ensemble on the word's window; crops the block has not reached yet repeat the last one seen."""
        lo, hi = window(self.t0 + (w.start + w.end) / 2)
        known = sorted(self.mouths)
        if not known:
            return
        crops = np.stack([self.mouths[min(known, key=lambda k: abs(k - i))] for i in range(lo, hi)])
        step = media.SAMPLE_RATE // FPS
        sound = audio[max(0, (lo - base) * step):max(0, (hi - base) * step)]
        scores = self.runner(roi.network_input(crops), lrw.audio_input(sound))
        best = int(np.argmax(scores))
        w.lrw, w.lrw_score = self.labels[best], round(float(scores[best]), 3)

    def _drop(self, seconds: float) -> None:
        n = min(len(self.frames), round(seconds * FPS))
        self.frames = self.frames[n:]
        self.audio = self.audio[n * (media.SAMPLE_RATE // FPS):]
        self.t0 += n / FPS
        for k in [k for k in self.mouths if k < round(self.t0 * FPS) - WINDOW]:
            del self.mouths[k]
        self._checked = max(0.0, self._checked - n / FPS)
