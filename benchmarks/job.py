"""The whole job against real time and against a plain transcode, stage by stage (issue 18's table).

For every shared scene (../shared/eval/scenes) and a 2-minute concatenation of them (built once in the
system temp folder, never in the repository), each repeat runs, one after the other on the same machine:

- the plain transcode: PyAV decode -> RGB -> libx264 veryfast (crf 20, the render's own settings), video
  only, in its own process: the floor for a burned-in result;
- the job: `sceneglot translate IN --to pt -o OUT.mp4` in its own process, fresh job folder and fresh
  translation cache, `--progress json`: its per-stage wall and CPU seconds are the job's own end events
  (jobs.Event.seconds/cpu/parts), the same figures `--progress times` prints; peak RSS and the process's
  CPU seconds come from os.wait4.

CPU seconds of a stage are the whole process's while the stage ran: speech runs in a thread beside
faces and active speakers, so those rows each include the other's CPU (their sum is not the total).
"cores" is CPU / wall: 2.0 means both cores were busy. Under load, compare the ratios, not the seconds.

    python benchmarks/job.py                    # 4 scenes + 2-minute input, 1 repeat (~6 min idle)
    python benchmarks/job.py --repeat 3         # medians of 3
    python benchmarks/job.py --quick            # cut2 only
    python benchmarks/job.py --quick --serial   # stages one after another: each stage's CPU is its own
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inputs import CLIPS, SCENES, scenes  # the long input, shared with benchmarks/long.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LONG_SECONDS = 120

# The rows: (label, stage, part); part None is the whole stage, "-" what the stage spends outside
# its named parts.
ROWS = [
    ("probe", "probe", None),
    ("decode: audio", "audio", None),
    ("decode: faces pass", "faces", "decode"),
    ("shots", "faces", "shots"),
    ("faces: detect", "faces", "detect"),
    ("faces: track + crops", "faces", ("track", "crops")),
    ("faces: squares kept for ASD", "faces", "asd crops"),
    ("identities", "faces", "identity"),
    ("= faces stage", "faces", None),
    ("VAD", "asr", "vad"),
    ("ASR (model load)", "asr", "load"),
    ("ASR (language id)", "asr", "language"),
    ("ASR (beam search)", "asr", "beam search"),
    ("ASR (decode chunks: encoder, word alignment)", "asr", "-"),
    ("= ASR stage", "asr", None),
    ("diarization", "diarization", None),
    ("words -> phrases", "speech", None),
    ("decode: ASD pass (faces cached)", "asd", "decode"),
    ("active speakers (crops)", "asd", "crop"),
    ("active speakers (mfcc)", "asd", "mfcc"),
    ("active speakers (network)", "asd", ("session", "encoder", "backend")),
    ("= active speakers stage", "asd", None),
    ("attribution", "assign", None),
    ("translation", "translate", None),
    ("layout", "render", "layout"),
    ("decode: render pass", "render", "decode"),
    ("draw", "render", "draw"),
    ("encode", "render", "encode"),
    ("render (rest: flush, files)", "render", "-"),
    ("= render stage", "render", None),
]
PARALLEL = {"asr", "diarization", "speech", "audio", "faces", "asd"}  # stages that may overlap in time

TRANSCODE = r"""
import sys, av
src, dst = sys.argv[1], sys.argv[2]
with av.open(src) as inp, av.open(dst, "w", format="mp4") as out:
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"
    vout = out.add_stream("libx264", rate=vin.average_rate)
    vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
    vout.codec_context.options = {"crf": "20", "preset": "veryfast"}
    vout.thread_type = "AUTO"
    n = 0
    for frame in inp.decode(vin):
        rgb = frame.to_ndarray(format="rgb24")
        f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        f.pts, f.time_base = n, 1 / vin.average_rate
        n += 1
        for p in vout.encode(f):
            out.mux(p)
    for p in vout.encode(None):
        out.mux(p)
"""


def _process(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MiB, stderr) of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"failed: {' '.join(cmd)}\n{text[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def transcode(src: Path, work: Path) -> tuple[float, float]:
    wall, cpu, _, _ = _process([sys.executable, "-c", TRANSCODE, str(src), str(work / "transcode.mp4")],
                               dict(os.environ))
    return wall, cpu


SERIAL = r"""
import json, sys
from dataclasses import asdict
from sceneglot.jobs import AsdSettings, Job, run_job
src, folder = sys.argv[1], sys.argv[2]
job = Job(input=src, folder=folder + "/out.sceneglot", target_language="pt", output=folder + "/out.mp4",
          translation_cache=folder + "/translations.sqlite", asd=AsdSettings(parallel=False))
run_job(job, listeners=[lambda e: print(json.dumps({**asdict(e), **e.timing()}), file=sys.stderr, flush=True)])
"""


def job(src: Path, work: Path, serial: bool = False) -> dict:
    """One fresh `translate -o` job: wall, CPU, RSS and the stages' end events.

    `serial`: the same job with every stage one after another (AsdSettings.parallel off), so each
    stage's CPU seconds are its own: where the CPU goes, not how fast the job is."""
    folder = work / f"job-{time.monotonic_ns()}"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.setdefault("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))
    cmd = [sys.executable, "-m", "sceneglot", "translate", str(src), "--to", "pt", "-o", str(folder / "out.mp4"),
           "--cache", str(folder / "translations.sqlite"), "--progress", "json"]
    if serial:
        cmd = [sys.executable, "-c", SERIAL, str(src), str(folder)]
    wall, cpu, rss, text = _process(cmd, env)
    stages = {}
    for line in text.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if "seconds" in event:
                stages[event["stage"]] = event
    return {"wall": wall, "cpu": cpu, "rss": rss, "stages": stages}


def row_value(stages: dict, stage: str, part) -> tuple[float, float] | None:
    event = stages.get(stage)
    if event is None:
        return None
    parts = event.get("parts", {})
    if part is None:
        return event["seconds"], event["cpu"]
    if part == "-":
        return (event["seconds"] - sum(w for w, _ in parts.values()), event["cpu"] - sum(c for _, c in parts.values()))
    names = part if isinstance(part, tuple) else (part,)
    found = [parts[n] for n in names if n in parts]
    return (sum(w for w, _ in found), sum(c for _, c in found)) if found else None


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(name: str, duration: float, runs: list[dict], codes: list[tuple[float, float]]) -> dict:
    print(f"\n## {name}: {duration:.1f} s of video, {len(runs)} run(s), medians")
    print(f"{'stage':<30} {'wall s':>8} {'CPU s':>8} {'cores':>6} {'starts at s':>11}")
    for label, stage, part in ROWS:
        values = [v for r in runs if (v := row_value(r["stages"], stage, part)) is not None]
        if not values:
            continue
        wall, cpu = median([w for w, _ in values]), median([c for _, c in values])
        at = median([r["stages"][stage]["at"] for r in runs if stage in r["stages"]]) if part is None else None
        side = " ∥" if stage in PARALLEL else ""
        print(f"{label + side:<30} {wall:>8.2f} {cpu:>8.2f} {cpu / wall if wall > 0.05 else float('nan'):>6.2f} "
              f"{'' if at is None else f'{at:.2f}':>11}")
    order = sorted(runs[0]["stages"], key=lambda k: runs[0]["stages"][k]["at"])
    spans = [f"{k} {median([r['stages'][k]['at'] for r in runs if k in r['stages']]):.1f}"
             f"+{median([r['stages'][k]['seconds'] for r in runs if k in r['stages']]):.1f}" for k in order]
    print("timeline (stage start+wall, s on the job's clock): " + ", ".join(spans))
    job_wall, job_cpu = median([r["wall"] for r in runs]), median([r["cpu"] for r in runs])
    rss = max(r["rss"] for r in runs)
    t_wall, t_cpu = median([w for w, _ in codes]), median([c for _, c in codes])
    ratios_rt = [r["wall"] / duration for r in runs]
    ratios_tc = [r["wall"] / w for r, (w, _) in zip(runs, codes, strict=True)]
    print(f"{'job (process, from start)':<30} {job_wall:>8.2f} {job_cpu:>8.2f} {job_cpu / job_wall:>6.2f}")
    print(f"{'plain transcode (same input)':<30} {t_wall:>8.2f} {t_cpu:>8.2f} {t_cpu / t_wall:>6.2f}")
    print(f"job / real time: {median(ratios_rt):.2f}x (target <= 1.0)   job / transcode: {median(ratios_tc):.2f}x "
          f"(target <= 1.5)   peak RSS: {rss:.0f} MiB")
    return {"input": name, "seconds": duration, "job": job_wall, "transcode": t_wall,
            "realtime": median(ratios_rt), "vs_transcode": median(ratios_tc), "rss": rss}


def duration_of(path: Path) -> float:
    sys.path.insert(0, str(ROOT))
    from sceneglot import media

    return media.probe(path).duration


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="runs per input; the table shows medians")
    ap.add_argument("--quick", action="store_true", help="cut2 only (about a minute)")
    ap.add_argument("--inputs", nargs="*", type=Path, help="these files instead of the shared scenes")
    ap.add_argument("--no-long", action="store_true", help="skip the 2-minute concatenation")
    ap.add_argument("--serial", action="store_true",
                    help="stages one after another (no speech thread): each stage's CPU is its own")
    args = ap.parse_args()
    work = Path(tempfile.gettempdir()) / "sceneglot-bench-job"
    work.mkdir(exist_ok=True)
    if args.inputs:
        inputs = list(args.inputs)
    elif args.quick:
        inputs = [SCENES / "cut2.mp4"]
    else:
        inputs = [SCENES / c for c in CLIPS] + ([] if args.no_long else [scenes(LONG_SECONDS, work)])
    print(f"sceneglot translate IN --to pt -o OUT.mp4{' (stages in series)' if args.serial else ''} on "
          f"{os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    summary = []
    for src in inputs:
        runs, codes = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(dir=work) as tmp:
                codes.append(transcode(src, Path(tmp)))
                runs.append(job(src, Path(tmp), args.serial))
        summary.append(report(src.name, duration_of(src), runs, codes))
    print(f"\n{'input':<22} {'video s':>8} {'job s':>8} {'transcode s':>12} {'job/real':>9} {'job/transcode':>14} "
          f"{'peak RSS MiB':>13}")
    for s in summary:
        print(f"{s['input']:<22} {s['seconds']:>8.1f} {s['job']:>8.2f} {s['transcode']:>12.2f} {s['realtime']:>9.2f} "
              f"{s['vs_transcode']:>14.2f} {s['rss']:>13.0f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
