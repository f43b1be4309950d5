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

# --quality: English references. The eval has no English for the multilingual clips, so these are translations
# written for this benchmark from what is said (the Mandarin one from an imperfect transcript, to "Guangzhou"),
# and sentences spoken by espeak-ng whose English is known exactly. Beams are chosen on the espeak set and
# reported on the real clips.
REAL_ENGLISH = {
    "deyu": "Our client portal for secure and legally binding communication is available to you on our homepage.",
    "fayu": "By using her browser as usual, she shares information about her tastes and her consumption habits.",
    "eluosi": "A new shop, a flower shop. We will create a festive mood around the clock.",
    "japanese": "Last time we only touched on the surface. As we go deeper, facts nobody knows will come to light.",
    "chinese_news": "These past two days CCTV broadcast a political documentary on the crackdown on organised crime, "
                    "which disclosed many details of the cases, for example in Guangzhou",
}
SPOKEN = [  # (espeak-ng voice, what it says, its English)
    ("de", "Der Zug nach Berlin fährt heute eine Stunde später ab. Bitte warten Sie im Bahnhof.",
     "The train to Berlin leaves an hour later today. Please wait in the station."),
    ("fr-fr", "Ma sœur habite à Lyon depuis trois ans. Elle travaille dans un hôpital.",
     "My sister has lived in Lyon for three years. She works in a hospital."),
    ("es", "Mañana vamos a visitar el museo con los niños. Después comeremos en el parque.",
     "Tomorrow we are going to visit the museum with the children. Afterwards we will eat in the park."),
    ("it", "Il ristorante è chiuso la domenica. Possiamo andare in un altro posto.",
     "The restaurant is closed on Sundays. We can go somewhere else."),
    ("ru", "Вчера шёл сильный дождь, и мы остались дома. Мы смотрели старый фильм.",
     "Yesterday it rained heavily and we stayed at home. We watched an old film."),
    ("pl", "Mój brat kupił nowy samochód w zeszłym tygodniu. Jest bardzo szybki.",
     "My brother bought a new car last week. It is very fast."),
    ("nl", "De winkel gaat om negen uur open. Ik wil brood en melk kopen.",
     "The shop opens at nine o'clock. I want to buy bread and milk."),
    ("sv", "Vi reser till Stockholm i sommar. Vädret brukar vara fint där.",
     "We are travelling to Stockholm this summer. The weather is usually nice there."),
]
BEAMS = (1, 2, 3, 5)


def one(clip: str, target: str) -> tuple[float, float, float, float, int]:
    """CPU seconds of (analysis without a target, analysis with one, X->en leg, en->target leg), sentences."""
    from dataclasses import replace

    from sceneglot import pipeline
    from sceneglot.jobs import Job
    from sceneglot.translate.base import SourceAudio
    from sceneglot.translate.cache import Cache
    from sceneglot.translate.route import plan
    from sceneglot.translate.run import translate_sentences
    from sceneglot.translate.sentences import join

    path = str(MULTI / f"{clip}.wav")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        pipeline.analyze(Job(input=path, folder=str(Path(tmp) / "plain")))
        t1 = time.process_time()
        analysis = pipeline.analyze(Job(input=path, folder=str(Path(tmp) / "job"), target_language=target))
        t2 = time.process_time()
        scene = analysis.scene
        audio = SourceAudio(path, scene.media.audio_stream, tuple(analysis.english))
        sentences = join(scene.segments, scene.source_language or "")
        route = plan(scene.source_language, target)
        assert route.pivot, route.name
        first, second = route.legs
        with Cache(Path(tmp) / "c.sqlite") as cache:
            english = translate_sentences(first.backend, first.source, "en", sentences, cache, audio)
            t3 = time.process_time()
            through = [replace(s, parts=(e,)) for s, e in zip(sentences, english, strict=True)]
            translate_sentences(second.backend, "en", target, through, cache, audio)
            t4 = time.process_time()
    return t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(sentences)


def chrf(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """chrF (Popovic 2015): character n-gram F-beta, n = 1..6, precision and recall averaged over n; 0..100."""
    from collections import Counter

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
    """chrF of the ASR pass's English against the references, and its CPU cost, per beam of that decode."""
    import subprocess

    from sceneglot.media import read_audio
    from sceneglot.speech import asr

    with tempfile.TemporaryDirectory() as tmp:
        sets = {"espeak-ng (choose)": [], "real clips (report)": []}
        for k, (voice, text, english) in enumerate(SPOKEN):
            wav = Path(tmp) / f"s{k}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(wav), text], check=True)
            sets["espeak-ng (choose)"].append((voice, read_audio(wav), english))
        sets["real clips (report)"] = [(c, read_audio(MULTI / f"{c}.wav"), REAL_ENGLISH[c]) for c in CLIPS]
    everything = [item for items in sets.values() for item in items]

    def run(audio, beam: int | None) -> tuple[str, float]:
        opts = asr.AsrOptions(english=None if beam is None else (lambda _language: True))
        if beam is not None:
            opts.english_beam = beam
        seconds = []
        for _ in range(repeat):
            t = time.process_time()
            _, lines = asr.transcribe_with_english(audio, options=opts)
            seconds.append(time.process_time() - t)
        return " ".join(h.text for h in lines), statistics.median(seconds)

    run(everything[0][1], 5)  # warm
    plain = {name: run(audio, None)[1] for name, audio, _ in everything}
    print("| beam of the English decode | mean chrF, espeak-ng (8 languages, choose) | mean chrF, 5 real clips "
          "(report) | English decode CPU s per clip (median over the 13) |")
    print("| --- | --- | --- | --- |")
    texts = {}
    for beam in BEAMS:
        scores, costs = {}, []
        for set_name, items in sets.items():
            scores[set_name] = []
            for name, audio, reference in items:
                english, cpu = run(audio, beam)
                texts[(beam, name)] = english
                scores[set_name].append(chrf(english, reference))
                costs.append(cpu - plain[name])
        print(f"| {beam} | {statistics.mean(scores['espeak-ng (choose)']):.1f} | "
              f"{statistics.mean(scores['real clips (report)']):.1f} | {statistics.median(costs):.2f} |", flush=True)
    for name, _, reference in everything:
        print(f"\n{name}: {reference}")
        for beam in BEAMS:
            print(f"  beam {beam}: {texts[(beam, name)]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", default="pt")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--quality", action="store_true", help="the English pivot against references, per beam")
    args = ap.parse_args()
    from sceneglot.speech.asr import AsrOptions, load_model

    load_model(AsrOptions().model)  # one Whisper per process, loaded before timing
    if args.quality:
        quality(args.repeat)
        return
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
