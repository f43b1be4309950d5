"""What the pivot through English costs: its share of a whole job on each multilingual clip (9 s of speech).

    python benchmarks/translate_pivot.py [--to pt] [--repeat 4] [--clips a,b]   # the share table (~8 min idle)
    python benchmarks/translate_pivot.py --quality [--repeat 2]     # the English against references (~4 min idle)
    python benchmarks/translate_pivot.py --repeat 0 --seconds 20 --seconds-repeat 3 [--input takes]   # the target
    python benchmarks/translate_pivot.py --bound       # the riding English's own bound, leave one out (~2 min idle)
    python benchmarks/translate_pivot.py --profile [--repeat 2]   # where the English's CPU goes (~2 min idle)

--profile: per clip, every Whisper decode of the ASR pass (as a job runs it: asr.transcribe_with_english),
without the English and with it: batch rows, beam size, patience, max_length, temperature (a fallback
shows as a second call with one), whether the prompt asks for no timestamps, tokens per row and CPU; the
English row's first step (a decode of one token with and without it beside the transcription's, on the
window's own encoder output: the row's cross-attention keys and values over the window's 1500 frames,
copied to its beams), what each further English token costs, and how many of the clip's sentences the
English covers (the rest are decoded again from their own audio by the X->en leg: the second pass).

--bound: the riding English's tokens on each clip's ASR window (a one-language clip's: its VAD speech, first
to last region, with asr.LEAD/TAIL) and on the whole clip without VAD, decoded unbounded and under
asr.english_cap; per clip the bound that twice the densest English of the other four clips (tokens per window
second) gives, and whether the clip's own English fits under it; the decode's CPU and the English's chrF
against the references below, both ways.

--seconds S: the target as written ("<= 10 % to a job's time on a 20 s clip"), on an S s input of each clip's
speech, made in a temp folder by --input: looped (the default: two copies 0.5 s apart, then silence; in ru and
ja one window whose text compresses like a loop), takes (the clip, 1.6 s of silence, the clip: a chunk and
a window each, as two takes of a recording), espeak (German sentences by espeak-ng's voice, for deyu only:
Whisper base does not hear its other voices as their language, see ESPEAK). Per clip: the whole job as
a user runs it, in its own process, CPU seconds of the child (RUSAGE_CHILDREN) and wall:
`sceneglot transcribe IN` (no target) against `sceneglot translate IN --to pt` (the two in alternating
order, fresh job folders and translation caches), what translate adds (both legs, the Bergamot load and the
analysis's faces/ASD stages: more than the pivot), the pivot's CPU (beam search + X->en leg, in process, as
below) over the CLI translate job, and beside them the strict share (the same pivot over the job's CPU
without model loads) on the same inputs.

A job here is what `sceneglot translate CLIP --to pt` runs: the analysis
(pipeline.analyze on a jobs.Job: speech, then faces/ASD, which find no video) and both
translation legs, in one process with the models already loaded (load time is
the same with or without a pivot). The pivot's X->en leg is Whisper's translate
task, decoded in the speech stage's own ASR pass (a second row in the
transcription's decoder batch, on the same encoder output), so its cost is the
asr stage's extra CPU over the same stage without a target (no English decoded;
the stage's own end event measures it, stages run one after another so that it
is the stage's own, and diarization's run-to-run spread stays out; the job's CPU
is the same work either way), plus what the X->en leg still takes in translate (sentences that English
did not cover are decoded from their own audio). The share is taken from the beam search's extra CPU
(the stage's part "beam search": the decodes in the transcription's riding block, models.whisper's
`riding`, with or without English riding; no other Whisper decode): the English changes nothing else in the
stage (same encoder output, language detection and word alignment; a test holds the transcript equal),
and a difference of two ~2 s beam searches carries far less of the machine's noise than one of two
~7 s stages (that column is printed too). The pairs alternate which job runs first. The last columns
put the same pivot cost against `sceneglot translate CLIP --to pt` run as a user runs it (its own
process: start-up and model loads, which the share above leaves out, included). A direct backend would do the
second leg's work alone. Fresh job folders and translation caches every run.
On a shared machine wall seconds carry other jobs' load, so the share is taken
from this process's CPU seconds (all its threads), which other processes
inflate far less.

--quality: chrF of the ASR pass's English against English references, for the
English as jobs decode it (batched with the transcription) and as a decode of
its own on the encoder output the transcription computed (no second encoder pass)
with beam 5 (what jobs did before), 2 and 1, with the English's CPU cost
(transcription with English minus without), and each way's agreement (chrF) with
the beam-5 decode on the same 30 s window. The eval has no English for
these clips: the references are translations written for this benchmark from
what is said (the Mandarin one from an imperfect transcript, up to "Guangzhou").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIPS = ["deyu", "fayu", "eluosi", "japanese", "chinese_news"]
MULTI = ROOT.parent / "shared" / "eval" / "speech" / "multilingual"
ENGLISH = {
    "deyu": "Our client portal for secure and legally binding communication is available to you on our homepage.",
    "fayu": "By using her browser as usual, she shares information about her tastes and her consumption habits.",
    "eluosi": "A new shop, a flower shop. We will create a festive mood around the clock.",
    "japanese": "Last time we only touched on the surface. As we go deeper, facts nobody knows will come to light.",
    "chinese_news": "These past two days CCTV broadcast a political documentary on the crackdown on organised crime, "
                    "which disclosed many details of the cases, for example in Guangzhou",
}


def one(clip: str, target: str, plain_first: bool = True, path: Path | None = None) -> dict[str, float]:
    """CPU seconds of one pair of jobs on `clip`, without a target and with one (in that order or the other):
    their asr stages and the beam search inside them, the X->en and en->target legs, the whole job; and the
    sentences and the English's Whisper tokens."""
    from dataclasses import replace

    from sceneglot import pipeline
    from sceneglot.jobs import AsdSettings, Job, Progress
    from sceneglot.speech.asr import AsrOptions, load_model
    from sceneglot.translate.base import SourceAudio
    from sceneglot.translate.cache import Cache
    from sceneglot.translate.route import plan
    from sceneglot.translate.run import translate_sentences
    from sceneglot.translate.sentences import join

    def asr(events) -> tuple[float, float]:
        end = next(e for e in events if e.stage == "asr" and e.message == "done")
        return end.cpu, (end.parts or {}).get("beam search", [0.0, 0.0])[1]

    path = str(path or MULTI / f"{clip}.wav")
    serial = AsdSettings(parallel=False)  # stages one after another: the asr stage's CPU is its own
    with tempfile.TemporaryDirectory() as tmp:
        def plain_job() -> tuple[float, float]:
            events: list = []
            pipeline.analyze(Job(input=path, folder=str(Path(tmp) / "plain"), asd=serial), Progress([events.append]))
            return asr(events)

        if plain_first:
            plain = plain_job()
        events: list = []
        t0 = time.process_time()
        analysis = pipeline.analyze(Job(input=path, folder=str(Path(tmp) / "job"), target_language=target,
                                        asd=serial), Progress([events.append]))
        t1 = time.process_time()
        scene = analysis.scene
        audio = SourceAudio(path, scene.media.audio_stream, tuple(analysis.english))
        sentences = join(scene.segments, scene.source_language or "")
        route = plan(scene.source_language, target)
        assert route.pivot, route.name
        first, second = route.legs
        with Cache(Path(tmp) / "c.sqlite") as cache:
            english = translate_sentences(first.backend, first.source, "en", sentences, cache, audio)
            t2 = time.process_time()
            through = [replace(s, parts=(e,)) for s, e in zip(sentences, english, strict=True)]
            translate_sentences(second.backend, "en", target, through, cache, audio)
            t3 = time.process_time()
        if not plain_first:
            plain = plain_job()
    tokenizer = load_model(AsrOptions().model).hf_tokenizer
    with_target = asr(events)
    return {"asr plain": plain[0], "asr": with_target[0], "beam plain": plain[1], "beam": with_target[1],
            "leg1": t2 - t1, "leg2": t3 - t2, "job": t3 - t0, "sentences": len(sentences),
            "tokens": sum(len(tokenizer.encode(" " + h.text).ids) for h in analysis.english)}


def cli_job(clip: str, target: str | None, path: Path | None = None) -> tuple[float, float]:
    """CPU and wall seconds of the job as a user runs it, in its own process (start-up and model loads
    included; fresh job folder and translation cache, so no stage or translation is served from a cache):
    `sceneglot translate CLIP --to TARGET`, or with no target `sceneglot transcribe CLIP` (the same speech
    stage; translate on an audio file adds the analysis's faces/ASD stages, which find no video, and the legs)."""
    import resource
    import subprocess

    src = str(path or MULTI / f"{clip}.wav")
    with tempfile.TemporaryDirectory() as tmp:
        job = ["--artifacts", str(Path(tmp) / "job"), "--progress", "none"]
        argv = (["translate", src, "--to", target, "--cache", str(Path(tmp) / "c.sqlite"), *job] if target
                else ["transcribe", src, *job])
        before, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([sys.executable, "-m", "sceneglot", *argv], check=True, cwd=ROOT, capture_output=True)
        wall, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


GAP = 0.5  # seconds of silence between the copies of a clip in a --seconds input
COPIES = 2  # whole copies of a clip in a --seconds input (see looped: two already read as a loop in ru and ja)


def looped(clip: str, seconds: float, work: Path) -> tuple[Path, float]:
    """`seconds` of one clip's speech: COPIES whole copies of it, GAP s of silence between them, then silence to
    `seconds` (written in `work`, a temp folder; returns the file and its seconds of speech). A repeat is not a
    recording that does not repeat itself: the ASR decodes the copies in one window (one chunk: a pause under
    1.5 s does not split one language's chunks), and Whisper's compression ratio is the window's whole text's.
    Three copies are over 2.4 in any language (fayu looped to 20 s); two already are in Russian and Japanese
    (2.49 and 2.46, one copy 1.30 and 1.27: their UTF-8 takes two and three bytes a character; English two copies
    1.86). Over 2.4 faster-whisper samples five more decodes (temperatures 0.2-1.0, five each), keeps the best,
    and the asr stage drops its every line as hallucinated (the window's ratio) and decodes each wordless VAD
    region again alone (asr._skipped_again): `sceneglot transcribe` took 24.5 CPU s on eluosi's input against
    7.7 on deyu's (6af1bd0, busy, one run). And Whisper's English for fayu's second copy is the first's line
    again, which asr.unrepeated keeps only where the transcript under it says the first copy's words again
    (where the second copy's transcript differs, that sentence goes to the X->en leg from its own audio)."""
    import wave

    with wave.open(str(MULTI / f"{clip}.wav"), "rb") as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    width = params.sampwidth * params.nchannels
    total = round(seconds * params.framerate) * width
    gap = bytes(round(GAP * params.framerate) * width)  # PCM zeros: silence
    out = (gap.join([frames] * COPIES))[:total]
    path = work / f"{clip}-{seconds:g}s.wav"
    with wave.open(str(path), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(out + bytes(total - len(out)))
    return path, min(COPIES * len(frames), total) / width / params.framerate


TAKE_GAP = 1.6  # seconds of silence between the takes of a --input takes input: over the 1.5 s that ends a chunk


def _pcm(clip: str) -> tuple[object, bytes]:
    import wave

    with wave.open(str(MULTI / f"{clip}.wav"), "rb") as src:
        return src.getparams(), src.readframes(src.getnframes())


def _write(path: Path, params, frames: bytes, seconds: float) -> Path:
    """`frames` cut or padded with silence (PCM zeros) to `seconds`, as a WAV file like `params`'s."""
    import wave

    width = params.sampwidth * params.nchannels
    total = round(seconds * params.framerate) * width
    with wave.open(str(path), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames[:total] + bytes(max(0, total - len(frames))))
    return path


def takes(clip: str, seconds: float, work: Path) -> tuple[Path, float]:
    """`seconds` of audio: the clip, TAKE_GAP s of silence, the clip again, then silence to `seconds` (the two
    takes cut there if longer: deyu's 2 x 9.34 + 1.6 s loses 0.28 s of its own trailing silence). Each take is
    a VAD chunk of its own (a pause of 1.5 s or more ends a chunk, and the clips' own edges add more), so
    its own Whisper window: the transcript and its compression ratio are one take's, as a recording's window
    would be, unlike looped's two copies in one window. Returns the file and its seconds of speech."""
    params, frames = _pcm(clip)
    width = params.sampwidth * params.nchannels
    gap = bytes(round(TAKE_GAP * params.framerate) * width)
    path = _write(work / f"{clip}-takes-{seconds:g}s.wav", params, gap.join([frames] * 2), seconds)
    return path, min(2 * len(frames), round(seconds * params.framerate) * width) / width / params.framerate


# Sentences espeak-ng says in --input espeak, by the clip's language. Only German: Whisper base's language
# detection does not hear espeak-ng's other voices as their language (one sentence each, -s 150: German de 0.93;
# Russian de 0.20 / pl 0.18; Mandarin en 0.70; Japanese en 0.37; French th 0.83; a stop before heard its Russian
# as Czech), so their jobs would take another route than the clip's, and a pivot measured there is not theirs.
ESPEAK = {"deyu": ("de", ["Guten Morgen, und herzlich willkommen zu unserer Sendung.",
                          "Heute sprechen wir über das Wetter in den Bergen und an der Küste.",
                          "Am Wochenende wird es in ganz Deutschland sonnig und warm.",
                          "Im Norden kann es am Abend leichten Regen geben.",
                          "Vielen Dank fürs Zuhören, und bis zum nächsten Mal."])}


def espeak(clip: str, seconds: float, work: Path) -> tuple[Path, float] | None:
    """`seconds` of speech that does not repeat itself: ESPEAK's sentences in the clip's language by
    espeak-ng's voice, GAP s apart, as many whole ones as fit, then silence to `seconds`; None for a clip
    whose language has no usable voice (see ESPEAK)."""
    import subprocess
    import wave

    if clip not in ESPEAK:
        return None
    voice, sentences = ESPEAK[clip]
    params, _ = _pcm(clip)
    width = params.sampwidth * params.nchannels
    gap = bytes(round(GAP * params.framerate) * width)
    spoken = []
    for i, text in enumerate(sentences):
        said = work / f"{clip}-espeak-{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(said), text], check=True)
        tmp = work / f"{clip}-espeak-{i}-16k.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(said), "-ar", str(params.framerate), "-ac",
                        str(params.nchannels), "-sample_fmt", "s16", str(tmp)], check=True)
        with wave.open(str(tmp), "rb") as src:
            spoken.append(src.readframes(src.getnframes()))
    total = round(seconds * params.framerate) * width
    while len(spoken) > 1 and len(gap.join(spoken)) > total:
        spoken.pop()
    frames = gap.join(spoken)
    path = _write(work / f"{clip}-espeak-{seconds:g}s.wav", params, frames, seconds)
    return path, min(len(frames), round(seconds * params.framerate) * width) / width / params.framerate


INPUTS = {"takes": takes, "espeak": espeak, "looped": looped}


def long_inputs(seconds: float, target: str, repeat: int, clips: list[str], made: str = "looped") -> None:
    """The target as written: the pivot's share of a whole job on a `seconds` s input of each clip's speech,
    made by INPUTS[made]."""
    print(f"| clip ({seconds:g} s input, {made}) | speech s | CLI CPU s, transcribe / translate --to {target} | "
          f"CLI wall s, transcribe / translate | translate adds (CPU) | per run | "
          f"pivot CPU s (beam search + X->en leg) | pivot / CLI translate job | "
          f"strict: pivot / job without model loads | per run |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    worst_added, worst_cli, worst_strict = 0.0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            got = INPUTS[made](clip, seconds, Path(tmp))
            if got is None:
                print(f"| {clip} | no {made} input in its language (see ESPEAK) |", flush=True)
                continue
            path, speech = got
            plain, full, added = [], [], []
            for k in range(repeat):  # order alternates: load drifts over a run, not across one pair
                order = [None, target] if k % 2 == 0 else [target, None]
                got = {t: cli_job(clip, t, path) for t in order}
                plain.append(got[None])
                full.append(got[target])
                added.append((got[target][0] - got[None][0]) / got[None][0])
            runs = [one(clip, target, plain_first=k % 2 == 0, path=path) for k in range(repeat)]
            if not all(r["sentences"] for r in runs):
                print(f"| {clip} | {speech:.1f} | no phrases transcribed: no pivot to measure |", flush=True)
                continue
            pivots = [r["beam"] - r["beam plain"] + r["leg1"] for r in runs]
            strict = [p / r["job"] for p, r in zip(pivots, runs, strict=True)]
            med = statistics.median
            pivot, cli_full = med(pivots), med(c for c, _ in full)
            worst_added = max(worst_added, med(added))
            worst_cli = max(worst_cli, pivot / cli_full)
            worst_strict = max(worst_strict, med(strict))
            print(f"| {clip} | {speech:.1f} | {med(c for c, _ in plain):.1f} / {cli_full:.1f} | "
                  f"{med(w for _, w in plain):.1f} / {med(w for _, w in full):.1f} | {100 * med(added):.1f} % | "
                  f"{' / '.join(f'{100 * x:.1f}' for x in added)} % | {pivot:.2f} | {100 * pivot / cli_full:.1f} % | "
                  f"{100 * med(strict):.1f} % | {' / '.join(f'{100 * x:.1f}' for x in strict)} % |", flush=True)
    print(f"\nlargest clip medians: translate --to {target} over transcribe {100 * worst_added:.1f} % (both legs, "
          f"the Bergamot load and the analysis's faces/ASD stages included); the pivot over the CLI job "
          f"{100 * worst_cli:.1f} %; strict (over the job without model loads) {100 * worst_strict:.1f} %")


def chrf(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """chrF (Popovic 2015): character n-gram F-beta, n = 1..6, precision and recall averaged over n; 0..100."""
    hyp, ref = (" ".join(t.lower().split()) for t in (hypothesis, reference))
    precisions, recalls = [], []
    for n in range(1, order + 1):
        h = Counter(hyp[i:i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i:i + n] for i in range(len(ref) - n + 1))
        if not h or not r:
            continue
        hit = sum((h & r).values())
        precisions.append(hit / sum(h.values()))
        recalls.append(hit / sum(r.values()))
    if not precisions:
        return 0.0
    p, r = statistics.mean(precisions), statistics.mean(recalls)
    return 0.0 if p + r == 0 else 100 * (1 + beta ** 2) * p * r / (beta ** 2 * p + r)


def quality(repeat: int) -> None:
    from sceneglot.media import read_audio
    from sceneglot.speech import asr

    ways = {"batched with the transcription (jobs)": {"english_batched": True},
            "own decode, beam 5 (before)": {"english_batched": False, "english_beam": 5},
            "own decode, beam 2": {"english_batched": False, "english_beam": 2},
            "own decode, beam 1": {"english_batched": False, "english_beam": 1}}

    def run(audio, settings: dict | None) -> tuple[str, float]:
        opts = asr.AsrOptions(english=None if settings is None else (lambda _language: True), **(settings or {}))
        seconds, lines = [], []
        for _ in range(repeat):
            t = time.process_time()
            _, lines = asr.transcribe_with_english(audio, options=opts)
            seconds.append(time.process_time() - t)
        return " ".join(h.text for h in lines), statistics.median(seconds)

    clips = {c: read_audio(MULTI / f"{c}.wav") for c in CLIPS}
    run(clips[CLIPS[0]], ways["own decode, beam 5 (before)"])  # warm
    plain = {c: run(audio, None)[1] for c, audio in clips.items()}
    texts = {}
    beam5 = "own decode, beam 5 (before)"
    for c, audio in clips.items():  # the agreement reference first
        texts[beam5, c] = run(audio, ways[beam5])[0]
    print("| English decoded | mean chrF, 5 clips | chrF per clip | chrF against the beam-5 decode, mean | "
          "English CPU s per clip (median) | per clip |")
    print("| --- | --- | --- | --- | --- | --- |")
    for way, settings in ways.items():
        scores, costs, agree = [], [], []
        for c, audio in clips.items():
            texts[way, c], cpu = run(audio, settings)
            scores.append(chrf(texts[way, c], ENGLISH[c]))
            agree.append(chrf(texts[way, c], texts[beam5, c]))
            costs.append(cpu - plain[c])
        print(f"| {way} | {statistics.mean(scores):.1f} | {' / '.join(f'{s:.0f}' for s in scores)} | "
              f"{statistics.mean(agree):.1f} | {statistics.median(costs):.2f} | "
              f"{' / '.join(f'{x:.2f}' for x in costs)} |", flush=True)
    same = [c for c in CLIPS if texts[next(iter(ways)), c] == texts[beam5, c]]
    print(f"\nbatched English identical to its own beam-5 decode on {len(same)} of {len(CLIPS)} clips")
    for c in CLIPS:
        print(f"\n{c}: {ENGLISH[c]}")
        for way in ways:
            print(f"  {way}: {texts[way, c]}")


def bound() -> None:
    from sceneglot.media import read_audio
    from sceneglot.speech import asr, vad

    model = asr.load_model(asr.AsrOptions().model)
    lang = {"deyu": "de", "fayu": "fr", "eluosi": "ru", "japanese": "ja", "chinese_news": "zh"}

    def ride(piece, language: str, max_new: int | None) -> tuple[int, float, str]:
        seconds = len(piece) / asr.SR
        t = time.process_time()
        with model.keeping_encodings() as encoded, model.riding(asr.english_prompt(model, language), max_new) as r:
            list(model.transcribe(piece, language=language, beam_size=5, word_timestamps=True, vad_filter=False,
                                  condition_on_previous_text=False)[0])
        cpu = time.process_time() - t
        lines = asr.unrepeated(asr.english_lines(model, encoded[0], language, 0.0, seconds, decoded=r.result), [])
        return len(r.result.sequences_ids[0]), cpu, " ".join(h.text for h in lines)

    windows = {}
    for c in CLIPS:
        audio = read_audio(MULTI / f"{c}.wav")
        regions = vad.speech_regions(audio, asr.SR, threshold=0.5, min_silence=0.3, pad=0.2)
        t0, t1 = max(0.0, regions[0][0] - asr.LEAD), regions[-1][1] + asr.TAIL
        windows[c, "VAD"] = audio[int(t0 * asr.SR):int(t1 * asr.SR)]
        windows[c, "whole, no VAD"] = audio
    ride(windows[CLIPS[0], "VAD"], "de", None)  # warm
    runs = {k: (ride(w, lang[k[0]], None), ride(w, lang[k[0]], asr.english_cap(len(w) / asr.SR)))
            for k, w in windows.items()}
    rate = {c: runs[c, "VAD"][0][0] / (len(windows[c, "VAD"]) / asr.SR) for c in CLIPS}
    print(f"english_cap: {asr.ENGLISH_BASE} + {asr.ENGLISH_RATE:g} tokens per window second\n")
    print("| clip | window | s | English tokens, unbounded | per s | bound from the other four (2x densest) | "
          "fits | english_cap | tokens under it | CPU s unbounded / bounded | chrF unbounded / bounded |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (c, way), ((n, cpu, text), (m, cpu_b, text_b)) in runs.items():
        seconds = len(windows[c, way]) / asr.SR
        others = 2 * max(r for k, r in rate.items() if k != c)
        loo = int(asr.ENGLISH_BASE + others * seconds)
        print(f"| {c} | {way} | {seconds:.2f} | {n} | {n / seconds:.1f} | {loo} ({others:.1f}/s) | "
              f"{'yes' if n <= loo else 'no'} | {asr.english_cap(seconds)} | {m} | {cpu:.2f} / {cpu_b:.2f} | "
              f"{chrf(text, ENGLISH[c]):.1f} / {chrf(text_b, ENGLISH[c]):.1f} |", flush=True)
    for (c, way), ((_, _, text), (_, _, text_b)) in runs.items():
        print(f"\n{c}, {way}: {ENGLISH[c]}\n  unbounded: {text}\n  bounded:   {text_b}")


def profile(repeat: int) -> None:
    import ctranslate2
    import numpy as np

    from sceneglot.media import read_audio
    from sceneglot.speech import asr, vad
    from sceneglot.translate.base import Phrase, Request, SourceAudio
    from sceneglot.translate.sentences import join
    from sceneglot.translate.whisper import from_speech_stage

    model = asr.load_model(asr.AsrOptions().model)
    riding = model.model  # models._Riding: its inner model is CTranslate2's, which every decode reaches
    calls: list[tuple] = []

    class Timed:  # CTranslate2's Whisper, each generate call recorded (rows, options, tokens, CPU)
        def __init__(self, inner) -> None:
            self.inner = inner

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def generate(self, features, prompts, **options):
            t = time.process_time()
            out = self.inner.generate(features, prompts, **options)
            calls.append((len(prompts), options.get("beam_size", 1), options.get("patience", 1.0),
                          options.get("max_length"), options.get("sampling_temperature", 0.0),
                          any(model.hf_tokenizer.token_to_id("<|notimestamps|>") in p for p in prompts),
                          [len(r.sequences_ids[0]) for r in out], time.process_time() - t))
            return out

    riding._inner = Timed(riding._inner)
    every = lambda _language: True  # noqa: E731
    print("| clip | decodes without English: rows, beam, patience, max_length, T, no timestamps, tokens, CPU s | "
          "with English | beam search CPU s, without / with (median) | English tokens | its first step CPU s | "
          "per further English token, ms | sentences covered by the English / decoded from their own audio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for clip in CLIPS:
        audio = read_audio(MULTI / f"{clip}.wav")
        runs: dict[bool, list] = {False: [], True: []}
        for _ in range(max(1, repeat)):
            for english in (False, True):
                calls.clear()
                segments, heard = asr.transcribe_with_english(
                    audio, options=asr.AsrOptions(english=every if english else None))
                runs[english].append((list(calls), heard, segments))
        med = {e: statistics.median(sum(c[-1] for c in r[0]) for r in runs[e]) for e in runs}
        _, heard, segments = runs[True][-1]
        language = segments[0].language
        regions = vad.speech_regions(audio, asr.SR, threshold=0.5, min_silence=0.3, pad=0.2)
        t0, t1 = max(0.0, regions[0][0] - asr.LEAD), regions[-1][1] + asr.TAIL
        with model.keeping_encodings() as encoded:  # the ASR window's encoder output (one window per clip)
            list(model.transcribe(audio[int(t0 * asr.SR):int(t1 * asr.SR)], language=language, beam_size=1,
                                  temperature=0.0, without_timestamps=True, vad_filter=False)[0])
        window = encoded[0]
        transcribe = list(asr.english_prompt(model, language))
        transcribe[2] = model.hf_tokenizer.token_to_id("<|transcribe|>")
        both = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate([np.asarray(window)] * 2)))
        first = []
        for rows, prompts in ((window, [transcribe]), (both, [transcribe, asr.english_prompt(model, language)])):
            cpu = []
            for _ in range(3):
                t = time.process_time()
                riding._inner.inner.generate(rows, prompts, beam_size=5, max_length=len(transcribe) + 1)
                cpu.append(time.process_time() - t)
            first.append(min(cpu))
        step = first[1] - first[0]
        tokens = sum(len(model.hf_tokenizer.encode(" " + h.text).ids) for h in heard)
        ride = next((c for c in runs[True][-1][0] if c[0] == 2), None)
        english_tokens = ride[6][1] if ride else tokens
        per_token = 1000 * (med[True] - med[False] - step) / max(1, english_tokens - 1)
        sentences = join(segments, language)
        phrases = tuple(Phrase(i, x.text, x.speaker, x.start, x.end) for i, x in enumerate(sentences))
        covered = from_speech_stage(Request(phrases, language, "en", phrases,
                                            SourceAudio(str(MULTI / f"{clip}.wav"), None, tuple(heard))), language)

        def shown(cs):
            return "; ".join(f"{n}, {b}, {p:g}, {m}, {tm:g}, {'yes' if nt else 'no'}, {'+'.join(map(str, k))}, "
                             f"{c:.2f}" for n, b, p, m, tm, nt, k, c in cs)

        print(f"| {clip} | {shown(runs[False][-1][0])} | {shown(runs[True][-1][0])} | {med[False]:.2f} / "
              f"{med[True]:.2f} | {english_tokens} | {step:.2f} | {per_token:.0f} | "
              f"{len(covered)} / {len(phrases) - len(covered)} |", flush=True)
    riding._inner = riding._inner.inner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", default="pt")
    ap.add_argument("--repeat", type=int, default=4,
                    help="pairs per clip (even: as many in each order; 0: no table of the clips as they are)")
    ap.add_argument("--quality", action="store_true", help="the English pivot against references")
    ap.add_argument("--bound", action="store_true", help="the riding English's own bound, leave one out")
    ap.add_argument("--profile", action="store_true", help="where the riding English's CPU goes")
    ap.add_argument("--cli-repeat", type=int, default=1, help="runs of the CLI job per clip (0: none)")
    ap.add_argument("--clips", default=",".join(CLIPS), help="comma-separated clip names (default: all five)")
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="also measure on inputs this long (each clip looped with 0.5 s gaps), as user CLI jobs")
    ap.add_argument("--seconds-repeat", type=int, default=0, help="pairs per clip there (default: --repeat)")
    ap.add_argument("--input", choices=list(INPUTS), default="looped",
                    help="--seconds inputs: takes (the clip, 1.6 s of silence, the clip: a window each), espeak "
                         "(espeak-ng sentences; German only), looped (two copies 0.5 s apart: one window)")
    args = ap.parse_args()
    from sceneglot.speech.asr import AsrOptions, load_model

    load_model(AsrOptions().model)  # one Whisper per process, loaded before timing
    if args.quality:
        quality(args.repeat)
        return
    if args.bound:
        bound()
        return
    if args.profile:
        profile(args.repeat)
        return
    one(CLIPS[0], args.to)  # warm every model once
    if args.repeat:
        short(args)
    if args.seconds:
        print()
        long_inputs(args.seconds, args.to, args.seconds_repeat or max(args.repeat, 1), args.clips.split(","),
                    args.input)


def short(args) -> None:
    """The share table on the clips as they are (6-9 s)."""
    print(f"| clip | sentences | English tokens | asr stage CPU s, no target / --to {args.to} | "
          f"its beam search CPU s, no target / --to {args.to} | X->en leg CPU s | job CPU s | "
          "pivot share per run (beam search + leg) | median | from the asr stages' difference | "
          "CLI job CPU s | median pivot / CLI job |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    shares, medians, stage_shares, cli_shares = [], [], [], []
    for clip in args.clips.split(","):
        runs = [one(clip, args.to, plain_first=k % 2 == 0) for k in range(args.repeat)]  # order alternates
        share = [(r["beam"] - r["beam plain"] + r["leg1"]) / r["job"] for r in runs]
        by_stage = [(r["asr"] - r["asr plain"] + r["leg1"]) / r["job"] for r in runs]
        shares += share
        stage_shares += by_stage
        medians.append(statistics.median(share))
        m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        cli = statistics.median(cli_job(clip, args.to) for _ in range(args.cli_repeat)) if args.cli_repeat else 0.0
        pivot = statistics.median(r["beam"] - r["beam plain"] + r["leg1"] for r in runs)
        cli_shares.append(pivot / cli if cli else float("nan"))
        print(f"| {clip} | {m['sentences']:.0f} | {m['tokens']:.0f} | {m['asr plain']:.2f} / {m['asr']:.2f} | "
              f"{m['beam plain']:.2f} / {m['beam']:.2f} | {m['leg1']:.2f} | {m['job']:.1f} | "
              f"{' / '.join(f'{100 * x:.1f}' for x in share)} % | {100 * medians[-1]:.1f} % | "
              f"{100 * statistics.median(by_stage):.1f} % | {cli:.1f} | {100 * cli_shares[-1]:.1f} % |", flush=True)
    q = statistics.quantiles(shares, n=4) if len(shares) > 1 else [shares[0]] * 3
    print(f"\nmedian pivot share over {len(shares)} runs: {100 * statistics.median(shares):.1f} % "
          f"(quartiles {100 * q[0]:.1f}-{100 * q[2]:.1f} %); largest clip median: {100 * max(medians):.1f} %; "
          f"from the asr stages' difference instead: median {100 * statistics.median(stage_shares):.1f} %; "
          f"of the CLI job (start-up and model loads included): largest {100 * max(cli_shares):.1f} %")

if __name__ == "__main__":
    main()
