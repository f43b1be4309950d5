"""Language identification per speech chunk: a padded 30 s window against the chunk's own frames.

Whisper's encoder takes up to 3000 log-Mel frames (30 s); faster-whisper's detection pads every
chunk to that, so a 3 s chunk costs a 30 s encoder pass. The speech stage hears each chunk on its own
frames, padded with zeros (as faster-whisper pads a transcription window) to models.LANGUAGE_FRAMES.
For each way of hearing a chunk this prints, over the VAD chunks the speech stage detects (those of at
least AsrOptions.min_detect), the share whose most likely language is the file's, the share whose
final language (after asr.detect_languages' guard, file by file) is right, the mean and the lowest
probability of the right language, and the encoder + detection CPU seconds.

The length is chosen on the "choose" files (the multilingual clips, jfk, the AMI excerpts): the cheapest
that gets as many chunks right as the 30 s window, by top-1 and after the guard; it is reported on the
"report" files (the four scenes' soundtracks, diarization/sample.wav and an English/Polish interview made
with espeak-ng).

    python benchmarks/language.py          # ~5 min idle (the 30 s rows are most of it)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
LENGTHS = [500, 1000, 1500]  # frames the encoder hears at least (10 ms each; 3000 = 30 s)
RECHECK = [0.6, 0.8, 0.9]  # heard again on the 30 s window below this probability


def files(work: Path) -> dict[str, list[tuple[Path, str]]]:
    """{"choose": [(file, language)], "report": [...]}; "en/pl" alternates by chunk, English first."""
    from media_fixtures import english_polish_clip

    multi = [(EVAL / "speech" / "multilingual" / f"{n}.wav", lang) for n, lang in
             [("deyu", "de"), ("fayu", "fr"), ("eluosi", "ru"), ("japanese", "ja"), ("chinese_news", "zh")]]
    ami = [(EVAL / "diarization" / "ami" / f"trn0{i}.wav", "en") for i in range(10)]
    scenes = []
    for name in ["cut2", "cut4", "twoshot", "dialogue"]:
        wav = work / f"{name}.wav"
        if not wav.is_file():
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(EVAL / "scenes" / f"{name}.mp4"), "-ac", "1",
                            "-ar", "16000", str(wav)], check=True)
        scenes.append((wav, "en"))
    mixed = english_polish_clip(work)
    return {"choose": [*multi, (EVAL / "speech" / "jfk.flac", "en"), *ami],
            "report": [*scenes, (EVAL / "diarization" / "sample.wav", "en"), (mixed, "en/pl")]}


class Heard:
    """A model whose detect_language replays what one way of hearing gave for each chunk (for the guard)."""

    def __init__(self, answers: dict[bytes, tuple[str, float, list]]) -> None:
        self.answers = answers

    def detect_language(self, piece: np.ndarray):
        return self.answers[piece.tobytes()]


def main() -> None:
    import ctranslate2

    from sceneglot import models
    from sceneglot.media import read_audio
    from sceneglot.speech import asr, vad

    opts = asr.AsrOptions()
    model = asr.load_model(opts.model)
    heard = ["30 s window"] + [f">= {n} frames" for n in LENGTHS]  # each chunk heard these ways

    def hear(way: str, piece: np.ndarray):
        if way == "30 s window":
            return super(type(model), model).detect_language(piece)  # faster-whisper's own
        mel = model.feature_extractor(piece)[:, :-1][:, :3000]
        mel = np.pad(mel, ((0, 0), (0, max(0, int(way.split()[1]) - mel.shape[1]))))
        out = model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])))
        probs = [(t[2:-2], float(p)) for t, p in model.model.detect_language(out)[0]]
        return probs[0][0], probs[0][1], probs

    def combined(way: str, got: dict):
        """(answer, CPU s) of `way` for one chunk from what the plain ways gave (`got`: way -> (answer, CPU s))."""
        if way in got:
            return got[way]
        short, below = way.split(", 30 s below ")
        answer, cpu = got[short]
        if answer[1] >= float(below):
            return answer, cpu
        return got["30 s window"][0], cpu + got["30 s window"][1]

    ways = heard + [f">= {n} frames, 30 s below {t}" for n in LENGTHS for t in RECHECK]
    table: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for group, items in files(Path(tmp)).items():
            for path, lang in items:
                audio = read_audio(path)
                regions = vad.speech_regions(audio, asr.SR, threshold=0.5, min_silence=0.3, pad=0.2)
                spans = [(s, e) for s, e in vad.merge_regions(regions, opts.chunk_gap, opts.max_chunk) if e - s >= 0.25]
                truth = [lang if lang != "en/pl" else ("en", "pl")[k % 2] for k in range(len(spans))]
                got = {}  # (start, end) -> way -> (answer, CPU s)
                for s, e in spans:
                    if e - s < opts.min_detect:
                        continue
                    piece = audio[int(s * asr.SR):int(e * asr.SR)]
                    for way in heard:
                        t = time.process_time()
                        answer = hear(way, piece)
                        got.setdefault((s, e), {})[way] = (answer, time.process_time() - t)
                for way in ways:
                    row = table.setdefault(group, {}).setdefault(way, {"top": [], "final": [], "p": [], "cpu": 0.0})
                    answers = {}
                    for (s, e), want in zip(spans, truth, strict=True):
                        if (s, e) not in got:
                            continue
                        found, cpu = combined(way, got[(s, e)])
                        answers[audio[int(s * asr.SR):int(e * asr.SR)].tobytes()] = found
                        row["cpu"] += cpu
                        row["top"].append(found[0] == want)
                        row["p"].append(dict(found[2]).get(want, 0.0))
                    chunks = [asr.Chunk(s, e) for s, e in spans]
                    asr.detect_languages(Heard(answers), audio, chunks, opts)
                    for c, want in zip(chunks, truth, strict=True):
                        if c.end - c.start >= opts.min_detect:
                            row["final"].append(c.language == want)
                            if c.language != want:
                                print(f"  wrong: {path.name} {c.start:.1f}-{c.end:.1f} s {way}: {c.language} "
                                      f"({c.probability:.2f}), not {want}", file=sys.stderr)
                print(f"{group}: {path.name} done", file=sys.stderr, flush=True)
    print(f"{'files':<7} {'hearing':<32} {'chunks':>6} {'top-1 ok':>9} {'final ok':>9} {'mean p':>7} {'min p':>6} "
          f"{'CPU s':>6}")
    for group, rows in table.items():
        for way, r in rows.items():
            print(f"{group:<7} {way:<32} {len(r['top']):>6} {np.mean(r['top']):>9.3f} {np.mean(r['final']):>9.3f} "
                  f"{np.mean(r['p']):>7.3f} {np.min(r['p']):>6.3f} {r['cpu']:>6.2f}")
    choose = table["choose"]
    base = choose["30 s window"]
    fit = [w for w in ways[1:] if np.mean(choose[w]["final"]) >= np.mean(base["final"])
           and np.mean(choose[w]["top"]) >= np.mean(base["top"])]
    best = min(fit, key=lambda w: choose[w]["cpu"]) if fit else None
    print(f"chosen on the choose files (the cheapest as right as the 30 s window, top-1 and final): {best}; "
          f"models: >= {models.LANGUAGE_FRAMES} frames, 30 s below {models.LANGUAGE_RECHECK}")


if __name__ == "__main__":
    main()
