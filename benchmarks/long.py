"""Long inputs: wall time, time per input minute, peak RSS and scene.json size at 1, 10 and 60 minutes, and
10 minutes on a local two-worker Ray cluster; printed as a table.

Inputs are built in /tmp (never in the repository) from the shared scenes (cut2, cut4, twoshot, dialogue:
seven people, shots and turns): the four clips are re-encoded once into a 1-minute file, which is then
stream-copied end to end into the longer ones. Each job is `sceneglot analyze INPUT --no-debug-video` in its
own process; peak RSS is that process's (os.wait4): for a Ray run the submitting process's only (the
stages' memory is in the cluster's workers). Also: scene.json's load time. Under load, compare ratios, not seconds.

    python benchmarks/long.py                 # 1, 10, 60 minutes + 10 minutes on Ray
    python benchmarks/long.py --minutes 1 --ray-minutes 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
SCENES = ROOT.parent / "shared" / "eval" / "scenes"
CLIPS = ["cut2.mp4", "cut4.mp4", "twoshot.mp4", "dialogue.mp4"]
os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))


def build(minutes: int, work: Path) -> Path:
    """A `minutes`-long input in `work` (made once, then reused)."""
    one = work / "long-1.mp4"
    if not one.is_file():
        inputs = [x for c in CLIPS for x in ("-i", str(SCENES / c))]
        n = len(CLIPS)
        graph = "".join(f"[{i}:v][{i}:a]" for i in range(n)) + f"concat=n={n}:v=1:a=1[v][a]"
        base = work / "base.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-c:a", "aac", "-ar", "48000",
                        str(base)], check=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "1", "-i", str(base), "-t", "60", "-c", "copy",
                        str(one)], check=True)
    if minutes == 1:
        return one
    out = work / f"long-{minutes}.mp4"
    if not out.is_file():
        listing = work / f"list-{minutes}.txt"
        listing.write_text("".join(f"file '{one}'\n" for _ in range(minutes)))
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                        str(out)], check=True)
    return out


def run(src: Path, folder: Path, extra: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one `sceneglot analyze` process."""
    cmd = [sys.executable, "-m", "sceneglot", "analyze", str(src), "--no-debug-video", "--artifacts", str(folder),
           *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, "SCENEGLOT_QUIET": "1", "PYTHONPATH": str(ROOT), **(env or {})},
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    err = proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"analyze failed on {src}:\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def scene_figures(folder: Path) -> tuple[float, float]:
    """(scene.json MiB, seconds to load and validate it)."""
    from sceneglot import scene as scene_io

    path = folder / "scene.json"
    started = time.perf_counter()
    scene_io.load(path)
    return path.stat().st_size / 2**20, time.perf_counter() - started


def ray_cluster(workers: int, env: dict[str, str]):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 200 << 20,
                                                            "include_dashboard": False, "env_vars": env})
    for _ in range(workers - 1):
        cluster.add_node(num_cpus=1, object_store_memory=200 << 20, env_vars=env)
    cluster.wait_for_nodes()
    return cluster


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, nargs="*", default=[1, 10, 60])
    ap.add_argument("--ray-minutes", type=int, nargs="*", default=[10], help="lengths also run on Ray (2 workers)")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sceneglot-long"))
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in args.minutes:
        src = build(minutes, work)
        folder = work / f"job-{minutes}"
        seconds, rss = run(src, folder, [])
        size, load = scene_figures(folder)
        rows.append((f"{minutes} min", "local", seconds, seconds / minutes, rss, size, load))
        print(*rows[-1], flush=True, file=sys.stderr)
    if args.ray_minutes:
        env = {"PYTHONPATH": str(ROOT), "SCENEGLOT_MODEL_PATH": os.environ["SCENEGLOT_MODEL_PATH"],
               "SCENEGLOT_QUIET": "1"}
        cluster = ray_cluster(2, env)
        try:
            for minutes in args.ray_minutes:
                src = build(minutes, work)
                folder = work / f"job-{minutes}-ray"
                seconds, rss = run(src, folder, ["--ray", cluster.address])
                size, load = scene_figures(folder)
                rows.append((f"{minutes} min", "ray, 2 workers", seconds, seconds / minutes, rss, size, load))
                print(*rows[-1], flush=True, file=sys.stderr)
        finally:
            cluster.shutdown()
    print(f"load: {os.getloadavg()[0]:.1f} (1-min load average at the end), {os.cpu_count()} cores")
    print("| input | where | wall s | s per input min | peak RSS MiB | scene.json MiB | scene.json load s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, where, seconds, per, rss, size, load in rows:
        print(f"| {name} | {where} | {seconds:.0f} | {per:.0f} | {rss:.0f} | {size:.2f} | {load:.2f} |")


if __name__ == "__main__":
    main()
