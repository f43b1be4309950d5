"""What the pivot through English costs: its share of a whole job on each multilingual clip (9 s of speech).

    python benchmarks/translate_pivot.py [--to pt] [--repeat 4] [--clips a,b]   # the share table (~8 min idle)
    python benchmarks/translate_pivot.py --quality [--repeat 2]     # the English against references (~4 min idle)

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


def one(clip: str, target: str, plain_first: bool = True) -> dict[str, float]:
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

    path = str(MULTI / f"{clip}.wav")
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


def cli_job(clip: str, target: str) -> float:
    """CPU seconds of `sceneglot translate CLIP --to TARGET` as a user runs it: its own process, start-up and
    model loads included (fresh job folder and translation cache)."""
    import resource
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "sceneglot", "translate", str(MULTI / f"{clip}.wav"), "--to", target,
                        "--artifacts", str(Path(tmp) / "job"), "--cache", str(Path(tmp) / "c.sqlite"),
                        "--progress", "none"], check=True, cwd=ROOT, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", default="pt")
    ap.add_argument("--repeat", type=int, default=4, help="pairs per clip (even: as many in each order)")
    ap.add_argument("--quality", action="store_true", help="the English pivot against references")
    ap.add_argument("--cli-repeat", type=int, default=1, help="runs of the CLI job per clip (0: none)")
    ap.add_argument("--clips", default=",".join(CLIPS), help="comma-separated clip names (default: all five)")
    args = ap.parse_args()
    from sceneglot.speech.asr import AsrOptions, load_model

    load_model(AsrOptions().model)  # one Whisper per process, loaded before timing
    if args.quality:
        quality(args.repeat)
        return
    one(CLIPS[0], args.to)  # warm every model once
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
