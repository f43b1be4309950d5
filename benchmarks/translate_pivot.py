"""What the pivot through English costs: its share of a whole job on each multilingual clip (9 s of speech).

    python benchmarks/translate_pivot.py [--to pt] [--repeat 2]

A job here is what `sceneglot translate CLIP --to pt` runs: the analysis
(pipeline.analyze on a jobs.Job: speech, then faces/ASD, which find no video) and both
translation legs, in one process with the models already loaded (load time is
the same with or without a pivot). The pivot's X->en leg is Whisper's translate
task; the speech stage decodes it on the encoder output of its own ASR pass,
so its cost is the analysis' extra time over the same analysis without a
target (no English decoded), plus what the X->en leg still takes in
translate (sentences that English did not cover are decoded from their own
audio). A direct backend would do the second leg's work alone. Fresh job
folders and translation caches every run. On a shared machine wall seconds
carry other jobs' load (the two analyses differ by more than the English
decode from run to run), so the share is taken from this process's CPU
seconds (all its threads), which other processes inflate far less.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIPS = ["deyu", "fayu", "eluosi", "japanese", "chinese_news"]
MULTI = ROOT.parent / "shared" / "eval" / "speech" / "multilingual"


def one(clip: str, target: str) -> tuple[float, float, float, float, int]:
    """CPU seconds of (analysis without a target, analysis with one, X->en leg, en->target leg), sentences."""
    from dataclasses import replace

    from sceneglot import pipeline
    from sceneglot.jobs import Job
    from sceneglot.translate.cache import Cache
    from sceneglot.translate.route import plan
    from sceneglot.translate.run import translate_sentences
    from sceneglot.translate.sentences import join

    path = str(MULTI / f"{clip}.wav")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        pipeline.analyze(Job(input=path, folder=str(Path(tmp) / "plain")))
        t1 = time.process_time()
        scene = pipeline.analyze(Job(input=path, folder=str(Path(tmp) / "job"), target_language=target)).scene
        t2 = time.process_time()
        sentences = join(scene.segments, scene.source_language or "")
        route = plan(scene.source_language, target)
        assert route.pivot, route.name
        first, second = route.legs
        with Cache(Path(tmp) / "c.sqlite") as cache:
            english = translate_sentences(first.backend, first.source, "en", sentences, cache, path)
            t3 = time.process_time()
            through = [replace(s, parts=(e,)) for s, e in zip(sentences, english, strict=True)]
            translate_sentences(second.backend, "en", target, through, cache, path)
            t4 = time.process_time()
    return t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(sentences)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", default="pt")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from sceneglot.speech.asr import AsrOptions, load_model

    load_model(AsrOptions().model)  # one Whisper per process, loaded before timing
    one(CLIPS[0], args.to)  # warm every model once
    print(f"| clip | sentences | analysis CPU s, no target | analysis CPU s, --to {args.to} | X->en leg CPU s | "
          f"en->{args.to} leg CPU s | pivot share of the job |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    shares = []
    for clip in CLIPS:
        runs = [one(clip, args.to) for _ in range(args.repeat)]
        share = [(with_target - plain + leg1) / (with_target + leg1 + leg2)
                 for plain, with_target, leg1, leg2, _ in runs]
        shares += share
        plain, with_target, l1, l2 = (statistics.median(r[k] for r in runs) for k in range(4))
        print(f"| {clip} | {runs[0][4]} | {plain:.1f} | {with_target:.1f} | {l1:.2f} | {l2:.2f} | "
              f"{' / '.join(f'{100 * s:.1f} %' for s in share)} |", flush=True)
    print(f"\nmedian pivot share over {len(shares)} runs: {100 * statistics.median(shares):.1f} %")


if __name__ == "__main__":
    main()
