"""Long inputs: wall time, time per input minute, peak RSS and scene.json size at 1, 10 and 60 minutes, and
10 minutes on a local two-worker Ray cluster; printed as a table.

Inputs are built in /tmp (never in the repository) from the shared scenes (cut2, cut4, twoshot, dialogue:
seven people, shots and turns): the four clips are re-encoded once into one file, which is then looped by
stream copy to each length (benchmarks/inputs.py, shared with benchmarks/job.py). Each job is the analysis
of `sceneglot analyze INPUT --no-debug-video` (jobs.run_job) in its own process; peak RSS is that process's
(os.wait4): for a Ray run the submitting process's only (the stages' memory is in the cluster's workers).
The process also samples its RSS every 20 ms and prints the peak while each stage ran (stages overlap:
speech runs beside faces and active speakers, so the stage peaks are the process's, not the stage's own
share); `--sequential` runs speech before vision, so each stage's peak above its start is its own. Also:
scene.json's load time. CPU seconds (the job process's, os.wait4; per stage the process's CPU while it ran)
per input minute show what grows with the input on a busy machine too. Under load, compare ratios and CPU.

A Ray length is run locally and on Ray back to back on the same input, the order alternating with
`--repeat` (local then Ray, Ray then local, ...), with the cluster up for both, so whatever else the
machine is doing falls on both alike; the ratio is taken per pair.

    python benchmarks/long.py                                # 1, 10, 60 minutes + 10 minutes on Ray
    python benchmarks/long.py --minutes 1 2 --ray-minutes    # quick: 1 and 2 minutes, no Ray (~5 min idle)
    python benchmarks/long.py --minutes --ray-minutes 2 --repeat 2   # the Ray ratio: 2 pairs on 2 minutes
    python benchmarks/long.py --minutes 60 --budget 1200     # the hour, stopped after 20 min: peak RSS so far
                                                             # and the input minutes each stage got through
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inputs import scenes  # the input, shared with benchmarks/job.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))


def build(minutes: int, work: Path) -> Path:
    """A `minutes`-long input in `work` (made once, then reused): the scenes looped (benchmarks/inputs.py)."""
    return scenes(60 * minutes, work)


def run(src: Path, folder: Path, extra: list[str], env: dict[str, str] | None = None,
        budget: float | None = None) -> dict:
    """One job in its own process: wall seconds, peak RSS MiB (os.wait4), the child's per-stage report.

    With `budget` (s) the job is stopped then; what it reported so far is returned, "stopped" set."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(src), str(folder), *extra]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**os.environ, "SCENEGLOT_QUIET": "1", "PYTHONPATH": str(ROOT),
                                          **(env or {})}, cwd=ROOT, stdout=out, stderr=err, text=True)
        timer = None
        if budget:
            import threading

            timer = threading.Timer(budget, proc.terminate)
            timer.start()
        load0 = os.getloadavg()[0]
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        if timer:
            timer.cancel()
        out.seek(0)
        err.seek(0)
        lines = [json.loads(x) for x in out.read().splitlines() if x.startswith("{")]
        code = os.waitstatus_to_exitcode(status)
        stopped = bool(budget) and code != 0 and seconds >= budget
        if code != 0 and not stopped:
            raise SystemExit(f"analyze failed on {src}:\n{err.read()[-2000:]}")
    report = lines[-1] if lines else {}
    return {"wall": seconds, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
            "stages": report.get("stages", {}),
            "stopped": stopped, "progress": report.get("progress", {}),
            "load": (round(load0, 1), round(os.getloadavg()[0], 1))}


def child(src: str, folder: str, ray: str | None, sequential: bool) -> None:
    """The job, with its RSS sampled every 20 ms: one JSON line every 10 s and at the end (stdout)."""
    import threading

    from sceneglot.jobs import AsdSettings, Job, run_job

    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * page / 2**20

    lock = threading.Lock()
    state = {"peak": 0.0, "stages": {}, "active": set(), "progress": {}, "began": {}}

    def listen(ev) -> None:
        with lock:
            now = round(time.perf_counter() - t0, 1)
            if ev.message in ("done", "cached"):
                state["active"].discard(ev.stage)
                row = state["stages"].setdefault(ev.stage, [0.0, 0.0, 0.0, 0.0, time.process_time(), 0.0])
                row[3] = round(now - state["began"].get(ev.stage, now), 1)
                row[5] = round(time.process_time() - row[4], 2)
            elif ev.stage not in state["active"] and ev.stage not in state["stages"]:
                state["active"].add(ev.stage)
                state["began"][ev.stage] = now
                here = rss()
                # start RSS, peak, start s, wall s, process CPU s at the start, process CPU s while it ran
                state["stages"][ev.stage] = [round(here), round(here), now, 0.0, time.process_time(), 0.0]
            if ev.total:
                state["progress"][ev.stage] = [ev.done, ev.total, now]

    def dump() -> None:
        with lock:
            print(json.dumps({"peak": round(state["peak"]), "stages": state["stages"],
                              "progress": state["progress"]}), flush=True)

    done = threading.Event()

    def sample() -> None:
        last = time.perf_counter()
        while not done.is_set():
            here = rss()
            with lock:
                state["peak"] = max(state["peak"], here)
                for name in state["active"]:
                    state["stages"][name][1] = max(state["stages"][name][1], round(here))
            if time.perf_counter() - last > 10:
                dump()
                last = time.perf_counter()
            time.sleep(0.02)

    def stop(*_) -> None:  # --budget ran out: the figures up to now, not those of up to 10 s ago
        # Unlocked: this runs on the main thread, which may hold the lock in listen().
        print(json.dumps({"peak": round(state["peak"]), "stages": state["stages"],
                          "progress": state["progress"]}), flush=True)
        os._exit(143)

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=sample, daemon=True).start()
    executor = None
    if ray:
        from sceneglot.cluster import RayExecutor

        executor = RayExecutor(ray)
    t0 = time.perf_counter()
    job = Job(input=src, folder=folder, asd=AsdSettings(parallel=not sequential))
    run_job(job, listeners=[listen], executor=executor)
    done.set()
    dump()


def scene_figures(folder: Path) -> tuple[float, float]:
    """(scene.json MiB, seconds to load and validate it)."""
    from sceneglot import scene as scene_io

    path = folder / "scene.json"
    started = time.perf_counter()
    scene_io.load(path)
    return path.stat().st_size / 2**20, time.perf_counter() - started


def ray_cluster(workers: int, env: dict[str, str]):
    from ray.cluster_utils import Cluster

    # Ray starts its workers at nice 15; the local run it is compared with runs at 0, and on a machine
    # shared with other work nice 15 gets a small share of the CPU (measured: ~5 % of a core at load 18).
    os.environ["RAY_worker_niceness"] = "0"  # noqa: SIM112 (Ray reads this spelling)
    head = {"num_cpus": 1, "object_store_memory": 200 << 20, "include_dashboard": False, "env_vars": env}
    for attempt in range(3):  # Ray gives a raylet 30 s to register; on a loaded machine that can pass
        try:
            cluster = Cluster(initialize_head=True, head_node_args=head)
            break
        except Exception as exc:
            if attempt == 2:
                raise
            print(f"Ray head did not start ({exc}); trying again", file=sys.stderr)
            time.sleep(10)
    for _ in range(workers - 1):
        cluster.add_node(num_cpus=1, object_store_memory=200 << 20, env_vars=env)
    cluster.wait_for_nodes()
    return cluster


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, nargs="*", default=[1, 10, 60])
    ap.add_argument("--ray-minutes", type=int, nargs="*", default=[10], help="lengths also run on Ray (2 workers)")
    ap.add_argument("--repeat", type=int, default=1, help="local/Ray pairs per Ray length (order alternating)")
    ap.add_argument("--budget", type=float, help="stop each job after this many seconds (report what it reached)")
    ap.add_argument("--sequential", action="store_true", help="speech before vision: each stage's own peak")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sceneglot-long"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--ray", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child, args.ray, args.sequential)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    extra = ["--sequential"] if args.sequential else []
    rows = []

    def one(minutes: int, where: str, flags: list[str]) -> None:
        src = build(minutes, work)
        folder = work / f"job-{minutes}{'-ray' if flags else ''}"
        shutil.rmtree(folder, ignore_errors=True)  # a fresh job: no stage cached
        got = run(src, folder, [*extra, *flags], budget=args.budget)
        size, load = scene_figures(folder) if not got["stopped"] else (float("nan"), float("nan"))
        rows.append((minutes, where, got, size, load))
        print(minutes, where, json.dumps(got), flush=True, file=sys.stderr)

    pairs: list[tuple[int, int, str, dict, dict]] = []
    cluster = None
    try:
        if args.ray_minutes:
            env = {"PYTHONPATH": str(ROOT), "SCENEGLOT_MODEL_PATH": os.environ["SCENEGLOT_MODEL_PATH"],
                   "SCENEGLOT_QUIET": "1"}
            cluster = ray_cluster(2, env)
        for minutes in args.minutes:
            if minutes not in args.ray_minutes:
                one(minutes, "local", [])
        for minutes in args.ray_minutes:
            for r in range(max(1, args.repeat)):
                order = [("local", []), ("ray, 2 workers", ["--ray", cluster.address])]
                if r % 2:
                    order.reverse()  # the other one first: a load that rises or falls hits both alike
                got = {}
                for where, flags in order:
                    one(minutes, where, flags)
                    got[where] = rows[-1][2]
                pairs.append((minutes, r + 1, " then ".join(w.split(",")[0] for w, _ in order),
                              got["local"], got["ray, 2 workers"]))
    finally:
        if cluster is not None:
            cluster.shutdown()
    print(f"load: {os.getloadavg()[0]:.1f} (1-min load average at the end), {os.cpu_count()} cores")
    print("| input | where | wall s | s per input min | CPU s per input min | peak RSS MiB | scene.json MiB "
          "| scene.json load s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for minutes, where, got, size, load in rows:
        if got["stopped"]:
            print(f"| {minutes} min | {where} | stopped at {got['wall']:.0f} | - | - | {got['rss']:.0f} so far "
                  "| - | - |")
        else:
            print(f"| {minutes} min | {where} | {got['wall']:.0f} | {got['wall'] / minutes:.1f} "
                  f"| {got['cpu'] / minutes if where == 'local' else float('nan'):.1f} | {got['rss']:.0f} "
                  f"| {size:.2f} | {load:.2f} |")  # Ray: the stages' CPU is in its workers, not counted
    if pairs:
        print("\nRay against local on the same input, back to back (the 1-min load average at each run's start "
              "and end)")
        print("| input | pair | order | local s | Ray s | Ray / local | load local | load Ray |")
        print("| --- | ---: | --- | ---: | ---: | ---: | --- | --- |")
        for minutes, r, order, here, there in pairs:
            ratio = "-" if here["stopped"] or there["stopped"] else f"{there['wall'] / here['wall']:.2f}x"
            print(f"| {minutes} min | {r} | {order} | {here['wall']:.0f} | {there['wall']:.0f} | {ratio} "
                  f"| {here['load'][0]}-{here['load'][1]} | {there['load'][0]}-{there['load'][1]} |")
        done = [there["wall"] / here["wall"] for _, _, _, here, there in pairs
                if not here["stopped"] and not there["stopped"]]
        if done:
            print(f"Ray / local over {len(done)} pair(s): mean {sum(done) / len(done):.2f}x, "
                  f"range {min(done):.2f}-{max(done):.2f}x")
    print("\nper stage: RSS MiB at its start -> peak while it ran (the process's), wall s; stopped jobs: input reached")
    print("| input | where | " + " | ".join(STAGES) + " |")
    print("| --- | --- |" + " ---: |" * len(STAGES))
    for minutes, where, got, _, _ in rows:
        cells = []
        for name in STAGES:
            row = got["stages"].get(name)
            reach = got["progress"].get(name)
            if row and (row[3] or not got["stopped"]):
                cells.append(f"{row[0]}->{row[1]}, {row[3]:.0f} s")
            elif row and reach:
                cells.append(f"{row[0]}->{row[1]}, at {reach[0]:.0f}/{reach[1]:.0f}")
            elif row:
                cells.append(f"{row[0]}->{row[1]}, running")
            else:
                cells.append("-")
        print(f"| {minutes} min | {where} | " + " | ".join(cells) + " |")
    # A stage that grows faster than the input shows here as a rising figure down a column (the assign stage
    # on stop 26's code: 0.6 CPU-s per input minute at 1 minute, 2.2 at 20). Its own CPU for assign, which
    # runs alone; the others overlap (speech beside faces and asd) unless --sequential.
    print("\nper stage: process CPU s per input minute while it ran (a stage's own where nothing ran beside it: "
          "assign; all with --sequential); local runs")
    print("| input | " + " | ".join(STAGES) + " | whole job |")
    print("| --- |" + " ---: |" * (len(STAGES) + 1))
    for minutes, where, got, _, _ in rows:
        if where != "local" or got["stopped"]:
            continue
        cells = [f"{row[5] / minutes:.2f}" if (row := got["stages"].get(name)) and len(row) > 5 else "-"
                 for name in STAGES]
        print(f"| {minutes} min | " + " | ".join(cells) + f" | {got['cpu'] / minutes:.1f} |")


STAGES = ("audio", "asr", "diarization", "faces", "asd", "assign")


if __name__ == "__main__":
    main()
