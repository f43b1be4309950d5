"""Who said it, on which face: the audio-visual attribution on the shared scenes, settings chosen leave-one-out.

    python benchmarks/attribution.py [--jobs DIR] [--shipped] [--unseen DIR] [--explain] [SCENE ...]
                                                               (default scenes: cut2 twoshot cut4 dialogue)

Per scene the heavy stages (ASR + diarization, faces, Light-ASD) run once, cached under DIR/SCENE when
--jobs is given, then the attribution runs for every point of a small grid of
its settings. For each scene, the settings are those that score best on the *other* scenes (leave one
scene out; ties keep the defaults), and the row shows the held-out scene under them. follows' speaker model
(AttributionSettings.follow, follow_spread: how well a speaking face's lips follow its own voice) is measured
per fold on the other scenes as well, and the grid is scored under each fold's:

- right face: share of truth speech time (under a phrase) whose phrase has the right face, or none when
  the speaker is heard from off screen; speaker: the phrase's speaker maps to the truth speaker
  (one-to-one optimal mapping); ASD raw / fused: frame accuracy (score > 0 <=> speaking) on visible faces
  of the network alone and of tracks[].speaking; voice-over: share of off-screen speech given no face;
  people: persons found / present; spanning: phrases whose words belong to two truth speakers;
  attribution s: wall seconds of the attribution under the chosen settings (its turns' voices are pooled
  from the CAM++ frame features the diarization kept: no CAM++ pass of its own);
  stages s: seconds of ASR + diarization + faces + ASD run one after another (* : measured when the cache
  was made); share: attribution s / (stages s + attribution s), its part of a serial `analyze`.
  Scoring: sceneglot.av.score (the truth format of ../shared/eval/README.md).
--shipped also runs pipeline.analyze from scratch per scene and prints the attribution stage's share of it.
--unseen DIR builds the re-edited scenes of benchmarks/reedit.py in DIR (other cut points and order, a
voice-over from another recording over a shot; truth derived from the sources') and scores them with the
settings chosen on all the shared scenes given: nothing is chosen on them.
--explain prints, per scene, every turn's evidence and decision beside the truth (how a wrong one comes about).
Then the speaking faces' pooled lip-sound sync per root second on the shared scenes given, per voice Light-ASD
sees them saying, with its mean and spread between faces per fold (on the other scenes) and on all of them
(what AttributionSettings.follow and follow_spread ship; the re-edits run with those).
Last, per scene, the right face at each margin and at each sync level of the grid (the other settings at their
defaults): how much a result rests on that one threshold.
Load averages are printed: other jobs on the machine inflate wall times.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import json
import math
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval" / "scenes"
os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))

from sceneglot import __version__, media  # noqa: E402
from sceneglot.av import active_speakers, score  # noqa: E402
from sceneglot.av import attribute as av_attribute  # noqa: E402
from sceneglot.av.attribute import AttributionSettings  # noqa: E402
from sceneglot.jobs import fingerprint  # noqa: E402
from sceneglot.scene import Scene  # noqa: E402
from sceneglot.speech import asr  # noqa: E402
from sceneglot.speech.diarize import diarize_with_voices  # noqa: E402
from sceneglot.speech.pipeline import assemble  # noqa: E402
from sceneglot.vision import analyze_faces  # noqa: E402

SCENES = ["cut2", "twoshot", "cut4", "dialogue"]
# The grid: the lead a face needs over the others to count as seen speaking (logits), the voice distance
# under which two turns are one speaker, the one above which one person's turns stay two voices.
# and the lead in standard deviations a face's lip-sound sync needs over the others' (one-sided 5, 10, 1 %).
GRID = {"margin": [2.0, 1.0, 3.0], "voice": [0.6, 0.5, 0.7], "clear": [0.8, 0.7, 0.9],
        "sync": [1.645, 1.282, 2.326]}  # defaults first


def stages(name: str, folder: Path | None, path: Path | None = None, truth: dict | None = None) -> dict:
    """The heavy stages by their public functions (as pipeline.analyze runs them, here one after another),
    kept in `folder` (a pickle keyed on the media and the sceneglot version), with their seconds if they ran.
    `path`, `truth`: a scene other than the shared one of that name (a re-edit, see reedit.py)."""
    path = path or EVAL / f"{name}.mp4"
    truth = truth or json.loads((EVAL / f"{name}.json").read_text())
    key = f"{fingerprint(path)}-{__version__}-flow"
    cache = folder / "stages.pickle" if folder else None
    if cache and cache.is_file():
        saved = pickle.loads(cache.read_bytes())
        if saved.get("key") == key:
            return _job(path, truth, saved)
    info = media.probe(path)
    audio = media.read_audio(path)
    t = time.perf_counter()
    segments = asr.transcribe(audio)
    turns, voices = diarize_with_voices(audio)
    speech, turns = assemble(info, segments, turns)
    faces = analyze_faces(path, info=info)
    # the asd stage's one path (pipeline.asd_stage): scores, mouth motion and the encoder rows the sync reads
    asd = active_speakers(path, faces.tracks, info=info, audio=audio, rows=True)
    saved = {"key": key, "info": info, "speech": speech, "turns": turns, "faces": faces, "asd": asd,
             "voices": voices, "stages_s": time.perf_counter() - t}
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(saved))
    job = _job(path, truth, saved)
    job["fresh"] = True
    return job


def _job(path: Path, truth: dict, saved: dict) -> dict:
    speech, faces, asd = saved["speech"], saved["faces"], saved["asd"]
    for tr in faces.tracks:
        tr.asd = [list(r) for r in asd.scores.get(tr.id, [])]
    scene = Scene(media=saved["info"], source_language=speech.source_language, shots=faces.shots,
                  speakers=speech.speakers, persons=faces.persons, tracks=faces.tracks, segments=speech.segments)
    audio = media.read_audio(path)
    # no encoder rows (the lip-motion fallback): the attribution measures sync on the mouth motion instead
    return {"scene": scene, "turns": saved["turns"], "motion": asd.motion, "audio": audio, "voices": saved["voices"],
            "stages_s": saved["stages_s"], "fresh": False, "truth": truth,
            "sync_of": asd.encoded.sync if asd.encoded is not None else None}


def run(job: dict, settings: AttributionSettings) -> tuple[score.Score, float]:
    scene = copy.deepcopy(job["scene"])
    t = time.perf_counter()
    av_attribute.attribute(scene, job["audio"], job["turns"], job["motion"], settings, voices=job["voices"],
                           sync_of=job["sync_of"])
    return score.score(scene, job["truth"]), time.perf_counter() - t


def shipped(name: str) -> tuple[float, float]:
    """(wall seconds of pipeline.analyze from a fresh job folder, as shipped: speech beside faces -> ASD;
    seconds of its attribution stage "assign" within that run)."""
    from sceneglot.jobs import Job, Progress
    from sceneglot.pipeline import analyze

    marks: dict[str, float] = {}

    def listen(event) -> None:
        if event.stage == "assign":
            marks[event.message] = time.perf_counter()

    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        analyze(Job(input=str(EVAL / f"{name}.mp4"), folder=folder), Progress([listen]))
        wall = time.perf_counter() - t
    return wall, marks["done"] - marks["start"]


def explain(name: str, job: dict, settings: AttributionSettings) -> None:
    """Per short turn: its span and why it starts there, the voice cluster, the decision (speaker, face,
    evidence), each visible face's mean raw logit and lip-sound sync z (sync.py, against shifted sound),
    and the truth there (who is heard, which visible face speaks). Faces are named by the truth."""
    scene, audio = copy.deepcopy(job["scene"]), job["audio"]
    result = av_attribute.diarize_av(job["turns"], scene, audio, job["motion"], settings, job["voices"],
                                     job["sync_of"])
    names = score.person_map(scene, job["truth"])
    print(f"\n{name}: per turn (cut: why it starts there; faces: raw logit, sync z)")
    for r in result.turns:
        t = r.turn
        faces = []
        for p, v in sorted(t.faces.items()):
            lips = f" z {t.sync[p]:+.1f}" if p in t.sync else ""
            faces.append(f"{names.get(p, p)} {v:+.1f}{lips}")
        u = score.turn_at(job["truth"], (t.start + t.end) / 2) or {"speaker": None, "on_screen": []}
        speaking = [o["person"] for o in u["on_screen"] if o["speaking"]] or ["nobody on screen"]
        print(f"  {t.start:6.2f}-{t.end:6.2f} {t.cut:<6} cluster {r.cluster} -> {r.speaker} "
              f"{names.get(r.person, r.person)} ({r.evidence}) | {'; '.join(faces) or 'no face'} | "
              f"truth {u['speaker']}, {', '.join(speaking)}")


def speaking_sync(job: dict, settings: AttributionSettings) -> list[tuple[float, float]]:
    """(pooled lip-sound sync z, seconds with a z) of each face over each voice cluster Light-ASD sees it saying,
    where the truth has that face speaking for most of that time: what AttributionSettings.follow, a speaker's
    pooled z per root second, is the mean of (measured on the shared scenes only)."""
    scene = copy.deepcopy(job["scene"])
    result = av_attribute.diarize_av(job["turns"], scene, job["audio"], job["motion"], settings, job["voices"],
                                     job["sync_of"])
    names = score.person_map(scene, job["truth"])
    out = []
    for c in sorted({r.cluster for r in result.turns}):
        for person in sorted({p for r in result.turns if r.cluster == c for p in r.turn.faces}):
            mine = [r.turn for r in result.turns if r.cluster == c and r.turn.voice is not None
                    and person in r.turn.sync and av_attribute.seen(r.turn, settings) == person]
            found = av_attribute.sync(person, mine)
            if found is None:
                continue
            truly = sum(t.duration for t in mine if any(
                o["person"] == names.get(person) and o["speaking"]
                for o in (score.turn_at(job["truth"], (t.start + t.end) / 2) or {"on_screen": []})["on_screen"]))
            seconds = sum(t.duration for t in mine)
            if truly > seconds / 2:
                out.append((found.value, seconds))
    return out


def speaker_model(rates: list[list[tuple[float, float]]]) -> tuple[float, float] | None:
    """(follow, follow_spread) from speaking_sync's (z, seconds) of some scenes: the mean of the faces' rates
    z / sqrt(seconds), and their spread between faces less a rate's own noise (1 / its seconds), both rounded
    to 0.01 as AttributionSettings ships them. None: under two rates."""
    every = [(z / math.sqrt(d), d) for xs in rates for z, d in xs]
    if len(every) < 2:
        return None
    mean = sum(x for x, _ in every) / len(every)
    var = sum((x - mean) ** 2 for x, _ in every) / (len(every) - 1) - sum(1 / d for _, d in every) / len(every)
    return round(mean, 2), round(math.sqrt(max(var, 0.0)), 2)


def objective(s: score.Score) -> float:
    """What the settings are chosen for: the issue's figures, each 0..1, and no phrase across a change."""
    parts = [s.right_face, s.speaker, s.asd_fused if s.asd_fused is not None else 1.0]
    if s.voice_over is not None:
        parts.append(s.voice_over)
    return sum(parts) / len(parts) - 0.02 * s.spanning - 0.05 * abs(s.people_found - s.people_present)


def _row(name: str, job: dict, s: score.Score, seconds: float, how: str) -> None:
    vo = "–" if s.voice_over is None else f"{s.voice_over:.1%}"
    st = f"{job['stages_s']:.1f}" + ("" if job["fresh"] else "*")
    share = f"{seconds / (job['stages_s'] + seconds):.1%}"
    print(f"{name:<17} {s.right_face:>10.1%} {s.speaker:>8.1%} {s.asd_raw:>8.1%} {s.asd_fused:>9.1%} {vo:>10} "
          f"{s.people_found:>3} / {s.people_present:<1} {s.spanning:>8} {seconds:>9.2f} {st:>8} {share:>6}  {how}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenes", nargs="*", default=SCENES)
    parser.add_argument("--jobs", type=Path, help="keep each scene's stage caches in JOBS/SCENE (reruns are fast)")
    parser.add_argument("--shipped", action="store_true",
                        help="also time pipeline.analyze from scratch and the attribution's share of it")
    parser.add_argument("--explain", action="store_true",
                        help="also print every scene's turns: evidence, decision and truth (under the chosen settings)")
    parser.add_argument("--unseen", type=Path, metavar="DIR",
                        help="also build the re-edited scenes of reedit.py in DIR and score them (settings chosen "
                             "on all the shared scenes given)")
    args = parser.parse_args()
    os.environ.setdefault("SCENEGLOT_QUIET", "1")
    print("load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    grid = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    jobs = {name: stages(name, args.jobs / name if args.jobs else None) for name in args.scenes}
    run(next(iter(jobs.values())), AttributionSettings())  # untimed: loads CAM++'s embedding layer, as in analyze
    # follows' speaker model (follow, follow_spread) is measured on scenes too: per fold on the other scenes,
    # like the grid's settings. The speaking faces' rates do not depend on it (the clustering and who is seen
    # speaking do not use it), so they are found once per scene.
    found = {name: speaking_sync(job, AttributionSettings()) for name, job in jobs.items()}
    shipped_model = (AttributionSettings().follow, AttributionSettings().follow_spread)
    models = {name: speaker_model([found[n] for n in args.scenes if n != name]) or shipped_model
              for name in args.scenes}
    tables: dict[tuple[float, float], dict] = {}

    def table_of(model: tuple[float, float]) -> tuple[list[AttributionSettings], dict]:
        points = [AttributionSettings(**g, follow=model[0], follow_spread=model[1]) for g in grid]
        if model not in tables:
            tables[model] = {name: [run(job, p) for p in points] for name, job in jobs.items()}
        return points, tables[model]

    head = (f"{'scene':<17} {'right face':>10} {'speaker':>8} {'ASD raw':>8} {'ASD fused':>9} {'voice-over':>10} "
            f"{'people':>7} {'spanning':>8} {'attrib. s':>9} {'stages s':>8} {'share':>6}  settings (chosen on)")

    def choose(on: list[str], model: tuple[float, float]) -> tuple[AttributionSettings, str]:
        points, table = table_of(model)
        best = max(range(len(points)), key=lambda i: (sum(objective(table[n][i][0]) for n in on), -i))
        top = sum(objective(table[n][best][0]) for n in on)
        ties = sum(abs(sum(objective(table[n][i][0]) for n in on) - top) < 1e-9 for i in range(len(points)))
        p = points[best]
        return p, (f"margin {p.margin:g} voice {p.voice:g} clear {p.clear:g} sync {p.sync:g} follow {p.follow:g} "
                   f"spread {p.follow_spread:g} ({', '.join(on)}; {ties} of {len(points)} grid points tie)")

    for name in args.scenes:
        table_of(models[name])  # all tables first: the rows' timings below are then run back to back
    print(head)
    print("-" * len(head))
    held_out = {}
    for name in args.scenes:
        p, how = choose([n for n in args.scenes if n != name] or [name], models[name])
        held_out[name] = (jobs[name], p)
        _row(name, jobs[name], *run(jobs[name], p), how)
    if args.unseen:
        import reedit

        p, how = choose(args.scenes, shipped_model)
        print(f"\nre-edited scenes (benchmarks/reedit.py), never used to choose anything; settings chosen on {how}; "
              "follow and spread as shipped (measured on all the shared scenes, rounded)")
        for name in reedit.SCENES:
            path, truth = reedit.build(name, args.unseen)
            job = stages(name, args.unseen / name, path, truth)
            held_out[name] = (job, p)
            _row(name, job, *run(job, p), "")
    print("\nspeaking faces' pooled lip-sound sync per root second, per voice Light-ASD sees them saying: "
          + "; ".join(f"{n} {' '.join(f'{z / math.sqrt(d):+.2f}' for z, d in xs)}" for n, xs in found.items()))
    print("follows' speaker model per fold, measured on the other scenes (mean rate, spread between faces with a "
          "rate's own noise, 1 / its seconds, taken out): " + "; ".join(
              f"{n} held out {models[n][0]:.2f} / {models[n][1]:.2f}" for n in args.scenes))
    every = speaker_model(list(found.values()))
    if every is not None:
        print(f"on all the scenes given: follow {every[0]:.2f}, follow_spread {every[1]:.2f}; "
              f"shipped AttributionSettings.follow {shipped_model[0]:g}, follow_spread {shipped_model[1]:g}")
    for knob in ("margin", "sync"):
        values = sorted(GRID[knob])
        print(f"\nhow much rests on one threshold: right face at {knob} {' / '.join(f'{v:g}' for v in values)}, "
              "the other settings at their defaults, follows' speaker model the row's")
        for name, (job, p) in held_out.items():
            model = {"follow": p.follow, "follow_spread": p.follow_spread}  # the fold's speaker model
            cells = " / ".join(f"{run(job, AttributionSettings(**{knob: v}, **model))[0].right_face:.1%}"
                               for v in values)
            print(f"{name:<17} {cells}", flush=True)
    if args.explain:
        for name, (job, p) in held_out.items():
            explain(name, job, p)
    if args.shipped:
        print("\nas shipped: pipeline.analyze from a fresh job folder (speech in a thread beside faces -> ASD)")
        for name in args.scenes:
            wall, attrib = shipped(name)
            print(f"{name:<9} analyze {wall:6.1f} s, attribution {attrib:5.2f} s = {attrib / wall:.1%}", flush=True)
    print("defaults: " + ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(AttributionSettings()).items()))
    print("targets: right face >= 97 %, speaker >= 95 %, fused ASD >= 92 %, voice-over >= 95 %, people found = "
          "present, no phrase spanning a speaker change; attribution <= 5 % of analyze")
    print("load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
