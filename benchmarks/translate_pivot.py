"""What the pivot through English costs: its share of a whole job on each multilingual clip (9 s of speech).

    python benchmarks/translate_pivot.py [--to pt] [--repeat 3]     # the share table (~2 min idle)
    python benchmarks/translate_pivot.py --quality [--repeat 3]     # the English against references (~2 min)

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
did not cover are decoded from their own audio). A direct backend would do the
second leg's work alone. Fresh job folders and translation caches every run.
On a shared machine wall seconds carry other jobs' load, so the share is taken
from this process's CPU seconds (all its threads), which other processes
inflate far less.

--quality: chrF of the ASR pass's English against English references, for the
English as jobs decode it (batched with the transcription) and as a decode of
its own with beam 5 (what jobs did before) and beam 1, with the English's CPU
cost (transcription with English minus without). The eval has no English for
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


def one(clip: str, target: str) -> tuple[float, float, float, float, float, int]:
    """CPU seconds of (asr stage without a target, with one, X->en leg, en->target leg, the whole job), sentences."""
    from dataclasses import replace

    from sceneglot import pipeline
    from sceneglot.jobs import AsdSettings, Job, Progress
    from sceneglot.translate.base import SourceAudio
    from sceneglot.translate.cache import Cache
    from sceneglot.translate.route import plan
    from sceneglot.translate.run import translate_sentences
    from sceneglot.translate.sentences import join

    def asr_cpu(events) -> float:
        return next(e.cpu for e in events if e.stage == "asr" and e.message == "done")

    path = str(MULTI / f"{clip}.wav")
    with tempfile.TemporaryDirectory() as tmp:
        plain: list = []
        serial = AsdSettings(parallel=False)  # stages one after another: the asr stage's CPU is its own
        pipeline.analyze(Job(input=path, folder=str(Path(tmp) / "plain"), asd=serial), Progress([plain.append]))
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
    return asr_cpu(plain), asr_cpu(events), t2 - t1, t3 - t2, t3 - t0, len(sentences)


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
    print("| English decoded | mean chrF, 5 clips | chrF per clip | English CPU s per clip (median) |")
    print("| --- | --- | --- | --- |")
    for way, settings in ways.items():
        scores, costs = [], []
        for c, audio in clips.items():
            texts[way, c], cpu = run(audio, settings)
            scores.append(chrf(texts[way, c], ENGLISH[c]))
            costs.append(cpu - plain[c])
        print(f"| {way} | {statistics.mean(scores):.1f} | {' / '.join(f'{s:.0f}' for s in scores)} | "
              f"{statistics.median(costs):.2f} |", flush=True)
    same = [c for c in CLIPS if texts[next(iter(ways)), c] == texts["own decode, beam 5 (before)", c]]
    print(f"\nbatched English identical to its own beam-5 decode on {len(same)} of {len(CLIPS)} clips")
    for c in CLIPS:
        print(f"\n{c}: {ENGLISH[c]}")
        for way in ways:
            print(f"  {way}: {texts[way, c]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", default="pt")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quality", action="store_true", help="the English pivot against references")
    args = ap.parse_args()
    from sceneglot.speech.asr import AsrOptions, load_model

    load_model(AsrOptions().model)  # one Whisper per process, loaded before timing
    if args.quality:
        quality(args.repeat)
        return
    one(CLIPS[0], args.to)  # warm every model once
    print(f"| clip | sentences | asr stage CPU s, no target | asr stage CPU s, --to {args.to} | X->en leg CPU s | "
          f"en->{args.to} leg CPU s | job CPU s | pivot share of the job |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    shares, medians = [], []
    for clip in CLIPS:
        runs = [one(clip, args.to) for _ in range(args.repeat)]
        share = [(with_target - plain + leg1) / job for plain, with_target, leg1, _, job, _ in runs]
        shares += share
        medians.append(statistics.median(share))
        cols = [statistics.median(r[k] for r in runs) for k in range(5)]
        print(f"| {clip} | {runs[0][5]} | {cols[0]:.2f} | {cols[1]:.2f} | {cols[2]:.2f} | {cols[3]:.2f} | "
              f"{cols[4]:.1f} | {' / '.join(f'{100 * s:.1f} %' for s in share)} |", flush=True)
    print(f"\nmedian pivot share over {len(shares)} runs: {100 * statistics.median(shares):.1f} %; "
          f"largest clip median: {100 * max(medians):.1f} %")


if __name__ == "__main__":
    main()
