"""Lip-audio synchrony: how well a face's mouth follows the heard sound over a turn, against chance.

Light-ASD scores lips that move to a muted recording as speaking (+4..+5 logits on dialogue's
listener), so lips moving is no evidence of speaking what is heard. What is: the mouth's motion
rising and falling with the sound's energy at about the same instant (Hershey & Movellan 1999,
"Audio Vision"; Slaney & Covell 2000, "FaceSync"), more than it does with the same soundtrack
taken seconds away. Per track and turn we measure

    r  = max over lags |l| <= LAG of Pearson(motion[t], energy[t + l])        (audio lag l frames)

and the same statistic with the energy shifted by SHIFT_MIN .. SHIFT_SPAN frames either way (a
per-track null: the face's own motion statistics against real speech that is not its own), so
z = (r - mean(null)) / std(null) says how unusual the fit is for this face, with no constant
deciding what a "good" correlation is. A face mouthing its own muted recording under another
voice fits the heard sound no better than shifted sound: z around 0.

Three measurements of a face, one audio side each:
- `motion_sync`: vertical optical flow spread in the mouth region of the Light-ASD crops (the
  grey 112x112 squares av.asd / av.crops cut; head motion removed by subtracting the region's
  mean flow) against log speech-band energy (300-3000 Hz) per 40 ms video frame.
- `embedding_sync`: Light-ASD's own visual and audio encoder features (128 per frame each,
  centred: the audio's over the soundtrack span given, the face's over the turn), their mean
  per-frame cosine; the network sums these before its GRU, which then ignores most of their sync.
- `lip_activity` + `motion_sync`: Light-ASD's visual-only head (how much the lips look like talking,
  frame by frame) against the same speech-band energy.
`combined` pools z-scores (Stouffer: sum / sqrt(n)).

Measured by benchmarks/sync.py (features chosen on cut2, twoshot, cut4 and their re-edits; dialogue and
dialogue-recut held out): the speaking face leads in 6 of 8 held-out two-face turns (flow, encoder
cosine), AUC speaking vs silent faces 0.65-0.76, against 4 of 8 for the lag-0 patch-difference x loudness
correlation av.attribute uses; the visual head scores 0.98 on the selection scenes and 0.66 held out.
Weak on 2-3 s turns (speakers' z 0.5-2.5): evidence to weigh between faces, not a detector on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .features import CROP_MOUTH, FPS

SAMPLE_RATE = 16000
HOP = SAMPLE_RATE // FPS  # samples per video frame
LAG = 5  # frames: the lag search, +-0.2 s (audio-visual offsets in edited video and speech production)
SHIFT_MIN = FPS  # frames: null shifts start at 1 s, past the speech envelope's own correlation
SHIFT_SPAN = 15 * FPS  # frames: and reach 15 s either way (wrapping round the span given)
SHIFT_STEP = 3  # frames between null shifts
MIN_FRAMES = 25  # a turn shorter than 1 s gives no score
BAND = (300.0, 3000.0)  # Hz: the speech band whose energy the mouth's opening modulates
# Farneback flow: pyramid scale, levels, window, iterations, poly_n, poly_sigma (a ~52x72 mouth region)
_FLOW = (0.5, 2, 9, 3, 5, 1.1, 0)


ENCODER, FLOW = "encoder", "flow"  # the two views of the lips: Light-ASD's encoder rows, the mouth's optical flow


@dataclass(frozen=True)
class Sync:
    """One face over one turn: best correlation `r` at audio lag `lag` (frames, > 0: sound later than
    the picture), its z-score `z` against `null` shifted positions of the same soundtrack; `views`: the
    measurements of the lips it rests on (ENCODER: embedding_sync, FLOW: motion_sync; a z pooled from both
    by turns.pooled_sync_of names both)."""

    r: float
    lag: int
    z: float
    null: int
    views: tuple[str, ...] = ()


def mouth_motion(crops: np.ndarray) -> np.ndarray:
    """(T, 112, 112) uint8 Light-ASD crops of one track -> (T,) mouth motion per frame (frame 0: 0).

    The spread (mean absolute deviation) of the vertical optical flow in the mouth region, after
    taking out its mean: lips opening and closing move apart, a nod moves the whole region.
    """
    crops = np.asarray(crops)
    out = np.zeros(len(crops))
    prev = None
    for i, crop in enumerate(crops):
        mouth = mouth_region(crop)
        if prev is not None:
            out[i] = mouth_flow(prev, mouth)
        prev = mouth
    return out


def mouth_region(crop: np.ndarray) -> np.ndarray:
    """The mouth region of one 112x112 uint8 Light-ASD crop, as mouth_flow takes it."""
    return np.ascontiguousarray(crop[CROP_MOUTH], np.uint8)


def mouth_flow(prev: np.ndarray, mouth: np.ndarray) -> float:
    """One frame of mouth_motion: the spread of the vertical Farneback flow from the previous frame's mouth
    region to this one's (mouth_region), its mean (the head's own motion) taken out."""
    fy = cv2.calcOpticalFlowFarneback(prev, mouth, None, *_FLOW)[..., 1]
    return float(np.mean(np.abs(fy - fy.mean())))


ENERGY_BLOCK = 1500  # frames speech_energy reads and transforms at once: 60 s, ~20 MiB of float64 blocks and spectra


def speech_energy(audio) -> np.ndarray:
    """Per 25-fps frame (40 ms, no overlap) log energy in dB of the 300-3000 Hz band of 16 kHz mono audio.

    Frame k covers samples k * 640 .. (k + 1) * 640 of `audio` (an array or a soundtrack.Soundtrack): pass
    the soundtrack from a frame boundary. Read and transformed ENERGY_BLOCK frames at a time: over an hour's
    soundtrack at once the float64 blocks, their windowed copy and their spectrum peaked at +1.3 GB (the
    assign stage of benchmarks/long.py's 60-minute input, stop 26); each frame's value is its own either way.
    """
    n = len(audio) // HOP
    if n == 0:
        return np.zeros(0)
    window = np.hanning(HOP)
    band = np.fft.rfftfreq(HOP, 1.0 / SAMPLE_RATE)
    band = (band >= BAND[0]) & (band <= BAND[1])
    out = np.empty(n)
    for a in range(0, n, ENERGY_BLOCK):
        b = min(n, a + ENERGY_BLOCK)
        blocks = np.asarray(audio[a * HOP:b * HOP], np.float64).reshape(b - a, HOP)
        spectrum = np.abs(np.fft.rfft(blocks * window, axis=1)) ** 2
        out[a:b] = 10 * np.log10(spectrum[:, band].sum(axis=1) + 1e-10)
    return out


def _positions(start: int, total: int) -> np.ndarray:
    """Where the null takes its sound from: start + k for SHIFT_MIN <= |k| <= SHIFT_SPAN, wrapped, deduplicated,
    never the true window itself (within LAG)."""
    ks = np.arange(SHIFT_MIN, SHIFT_SPAN + 1, SHIFT_STEP)
    pos = np.unique(np.concatenate([start + ks, start - ks]) % total)
    distance = np.minimum((pos - start) % total, (start - pos) % total)
    return pos[distance > 2 * LAG]


def _best(scores: np.ndarray, centres: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Per centre position, the best score over lags -LAG..LAG (positions wrap) and that lag; `scores` holds
    every position of `total` (only those within LAG of a centre are read)."""
    lags = np.arange(-LAG, LAG + 1)
    grid = scores[(centres[:, None] + lags[None, :]) % total]
    return grid.max(axis=1), lags[grid.argmax(axis=1)]


def _read(start: int, total: int) -> np.ndarray:
    """The positions (sorted, unique) _sync reads for a turn at `start`: the true one and the null's, each with
    its lags."""
    centres = np.concatenate([[start], _positions(start, total)])
    return np.unique((centres[:, None] + np.arange(-LAG, LAG + 1)[None, :]) % total)


def _sync(per_position: np.ndarray, start: int, view: str) -> Sync | None:
    """The z of position `start`'s best lag against the null's: `per_position` is one score per position of the
    soundtrack given, of which only those _read names are read."""
    total = len(per_position)
    null_at = _positions(start, total)
    if len(null_at) < 10:
        return None
    true, lag = _best(per_position, np.array([start]), total)
    null, _ = _best(per_position, null_at, total)
    z = (true[0] - null.mean()) / max(float(null.std()), 1e-9)
    return Sync(float(true[0]), int(lag[0]), float(z), len(null_at), (view,))


def motion_sync(motion: np.ndarray, energy: np.ndarray, start: int) -> Sync | None:
    """How well `motion` (one face over a turn, frame by frame) follows `energy` from frame `start` on.

    `energy` (speech_energy) covers the soundtrack around the turn, or all of it (the cost does not grow with
    its length: only the positions the null and the lag search read are correlated); positions wrap round its
    ends. None when the turn is under MIN_FRAMES or `energy` is too short for a null.
    """
    motion = np.asarray(motion, np.float64)
    energy = np.asarray(energy, np.float64)
    n, total = len(motion), len(energy)
    if n < MIN_FRAMES or total < n + 2 * SHIFT_MIN:
        return None
    m = motion - motion.mean()
    m_norm = np.sqrt(np.sum(m * m))
    if m_norm < 1e-9:  # a still mouth follows nothing
        return Sync(0.0, 0, 0.0, 0, (FLOW,))
    # Only the positions the true fit and the null read (~800 of them, each a window of n frames wrapping
    # round energy's ends): every position of an hour's energy made each turn cost the whole input's length,
    # and the assign stage quadratic in it (benchmarks/long.py, stop 27).
    at = _read(start, total)
    windows = energy[(at[:, None] + np.arange(n)[None, :]) % total]
    centred = windows - windows.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.sum(centred * centred, axis=1))
    r = np.empty(total)
    r[at] = centred @ m / np.maximum(norms * m_norm, 1e-12)
    return _sync(r, start, FLOW)


def embedding_sync(visual: np.ndarray, audio: np.ndarray, start: int) -> Sync | None:
    """Light-ASD's encoders: mean cosine of a face's visual features (T, 128) over a turn with the audio
    features (N, 128) of the soundtrack span, from row `start` on (one row per 25-fps frame).

    The audio rows are centred over the span given, the visual rows over the turn: what is left is how
    each frame differs from the face's and the sound's usual look, which is where sync shows.
    """
    visual = np.asarray(visual, np.float64)
    audio = np.asarray(audio, np.float64)
    n, total = len(visual), len(audio)
    if n < MIN_FRAMES or total < n + 2 * SHIFT_MIN:
        return None
    v = visual - visual.mean(axis=0)
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-9
    a = audio - audio.mean(axis=0)
    a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-9
    ext = np.concatenate([a, a[: n - 1]])
    # per position p: mean over frames i of <v_i, a_{p+i}>, summed over the n diagonals
    dots = np.ascontiguousarray(ext @ v.T)  # (total + n - 1, n): dots[j, i] = <a_j, v_i>
    # dots[p + i, i] sits at flat offset p * n + i * (n + 1): a strided view of those diagonals, no gather
    size = dots.itemsize
    diagonals = np.lib.stride_tricks.as_strided(dots, (total, n), (n * size, (n + 1) * size), writeable=False)
    return _sync(diagonals.mean(axis=1), start, ENCODER)


# Frames of soundtrack either side of a turn that Encoded.sync hands embedding_sync: every null shift
# (up to SHIFT_SPAN) at every lag (up to LAG) then reads real sound, not sound wrapped round the span.
REACH = SHIFT_SPAN + LAG


@dataclass(frozen=True)
class Encoded:
    """Light-ASD's own encoder rows that the asd stage keeps (pipeline: float16, read memory-mapped from the
    job folder, so nothing here grows with the input): `audio` (N, 128), row k the soundtrack's 25-fps frame
    k (audio encoder over the whole soundtrack); `visual`, per track id, (first frame, (T, 128) rows), row i
    the track's frame first + i (visual encoder over the track's crops, as its scores were computed)."""

    audio: np.ndarray
    visual: dict[str, tuple[int, np.ndarray]]

    def sync(self, track_id: str, lo: int, hi: int) -> Sync | None:
        """embedding_sync of track `track_id` over 25-fps frames lo..hi (hi excluded) against the soundtrack
        within REACH frames of them (all of it for a short input). None: the track is unknown, on screen
        for under MIN_FRAMES of the span, or the soundtrack is too short for a null."""
        if track_id not in self.visual:
            return None
        first, rows = self.visual[track_id]
        lo, hi = max(lo, first), min(hi, first + len(rows), len(self.audio))
        if hi - lo < MIN_FRAMES:
            return None
        a0, a1 = max(0, lo - REACH), min(len(self.audio), hi + REACH)
        return embedding_sync(rows[lo - first:hi - first], self.audio[a0:a1], lo - a0)


def combined(*scores: Sync | None) -> float | None:
    """Stouffer's pooled z of the measurements available (None when there are none)."""
    zs = [s.z for s in scores if s is not None and s.null]
    return float(sum(zs) / np.sqrt(len(zs))) if zs else None


def load_network():
    """The Light-ASD torch network from the model store (sha256 checked), for the encoder features below."""
    from .. import models
    from . import network

    return network.load(models.file("light-asd"))


def visual_features(crops: np.ndarray, net) -> np.ndarray:
    """Light-ASD's visual encoder alone: (T, 112, 112) uint8 crops -> (T, 128), `net` a network.LightASD."""
    import torch

    from . import network

    with torch.no_grad():
        video = torch.from_numpy(np.asarray(crops, np.float32))[None]
        return net.model.visualEncoder(((video / 255.0 - network.MEAN) / network.STD).unsqueeze(1))[0].numpy()


def lip_activity(visual: np.ndarray, net) -> np.ndarray:
    """Light-ASD's visual-only head (`lossV`, trained beside the network, unused by its scores) on visual
    features (T, 128) -> (T,) logit of "these lips are talking"; `motion_sync` correlates it with the energy."""
    import torch

    with torch.no_grad():
        logits = net.lossV.FC(torch.from_numpy(np.asarray(visual, np.float32))).numpy()
    return (logits[:, 1] - logits[:, 0]).astype(np.float64)


def audio_features(mfcc: np.ndarray, net) -> np.ndarray:
    """Light-ASD's audio encoder alone: (4N, 13) features.mfcc rows -> (N, 128), one row per 25-fps frame."""
    import torch

    rows = len(mfcc) // 4 * 4
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(mfcc[:rows], np.float32))[None]
        return net.model.audioEncoder(x.unsqueeze(1).transpose(2, 3))[0].numpy()
