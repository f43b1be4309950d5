"""The job layer's targets on a shared clip (default cut2), printed as a table.

- first `translate CLIP --to pt -o OUT.mp4` (fresh job folder, fresh translation cache) and the same job
  again fully cached (which model modules it imported);
- an edit of scene.json (a translation, a phrase's text, a speaker's name) and `render`: its wall time as a
  share of the first run (target <= 40 %), the median of --repeat pairs, each pair run back to back;
- media.probe / media.iter_audio calls during one `run_job` (target 1 / 1);
- Ctrl-C: seconds from SIGINT to exit, sent during faces and during active speakers (target < 1 s);
- `sceneglot --help` wall time (target < 0.5 s).

Each CLI run is its own process, as a user runs it. Under load, compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval" / "scenes"
os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))
MODEL_MODULES = ["torch", "onnxruntime", "ctranslate2", "faster_whisper", "sceneglot.translate", "sceneglot.speech",
                 "sceneglot.vision"]


def cli(args: list[str]) -> tuple[float, list[str], subprocess.CompletedProcess]:
    """`python -m sceneglot ARGS` as a user runs it (its own entry point and exit); also which model modules it
    imported, read from `-X importtime`'s list of every module loaded."""
    env = {**os.environ, "SCENEGLOT_QUIET": "1", "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "sceneglot", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - t
    if proc.returncode:
        errors = "\n".join(x for x in proc.stderr.splitlines() if not x.startswith("import time:"))
        sys.exit(f"failed: sceneglot {' '.join(args)}\n{errors[-2000:]}")
    loaded = {x.rsplit("|", 1)[-1].strip() for x in proc.stderr.splitlines() if x.startswith("import time:")}
    return seconds, [m for m in MODEL_MODULES if m in loaded], proc


def edit(folder: Path) -> None:
    data = json.loads((folder / "scene.json").read_text(encoding="utf-8"))
    segs = sorted(data["segments"], key=lambda s: s["start"])
    segs[0]["translation"] = "Uma tradução corrigida à mão."
    segs[-1]["text"] = segs[-1]["text"] + " And that is all."
    data["speakers"][0]["name"] = "Ana"
    (folder / "scene.json").write_text(json.dumps(data), encoding="utf-8")


def count_io(clip: Path) -> dict[str, int]:
    from sceneglot import jobs, media

    calls = {"probe": 0, "iter_audio": 0}
    real = {"probe": media.probe, "iter_audio": media.iter_audio}

    def spy(name):
        def call(*args, **kwargs):
            calls[name] += 1
            return real[name](*args, **kwargs)
        return call

    media.probe, media.iter_audio = spy("probe"), spy("iter_audio")
    try:
        with tempfile.TemporaryDirectory() as folder:
            jobs.run_job(jobs.Job(input=str(clip), folder=folder))
    finally:
        media.probe, media.iter_audio = real["probe"], real["iter_audio"]
    return calls


def _interruptible() -> None:
    """A shell's background job starts with SIGINT ignored, and Python keeps it so: give the child the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def ctrl_c(clip: Path, stage: str, after: int) -> float:
    """Seconds from SIGINT (sent at the `after`-th progress event of `stage`) to the process's exit."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("SCENEGLOT_QUIET", None)
        proc = subprocess.Popen([sys.executable, "-m", "sceneglot", "analyze", str(clip), "--artifacts", folder,
                                 "--no-debug-video", "--progress", "json"], stderr=subprocess.PIPE, text=True,
                                env=env, cwd=ROOT, preexec_fn=_interruptible)
        n = 0
        for line in proc.stderr:
            if f'"stage": "{stage}"' in line and '"start"' not in line:
                n += 1
                if n >= after:
                    t = time.perf_counter()
                    proc.send_signal(signal.SIGINT)
                    break
        else:
            proc.wait()
            return float("nan")
        proc.stderr.read()
        rc = proc.wait()
        seconds = time.perf_counter() - t
        if rc != 130:
            sys.exit(f"Ctrl-C during {stage}: exit code {rc}")
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", nargs="?", default="cut2")
    parser.add_argument("--repeat", type=int, default=3,
                        help="first run + re-render pairs, Ctrl-C trials per stage and --help runs")
    parser.add_argument("--rerender-only", action="store_true",
                        help="only the first run / re-render pairs (issue 12's re-render target)")
    args = parser.parse_args()
    clip = EVAL / f"{args.clip}.mp4"
    print("load avg", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    rows: list[tuple[str, str, str]] = []
    firsts, rerenders, ratios = [], [], []
    for trial in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{args.clip}.pt.mp4"
            first, _, _ = cli(["translate", str(clip), "--to", "pt", "-o", str(out), "--cache", f"{tmp}/tr.sqlite3"])
            folder = out.parent / f"{out.stem}.sceneglot"
            if trial == 0 and not args.rerender_only:
                again, heavy, _ = cli(["translate", str(clip), "--to", "pt", "-o", str(out), "--cache",
                                       f"{tmp}/tr.sqlite3"])
                rows.append(("same job fully cached (incl. render), wall s", f"{again:.1f}",
                             f"model modules imported: {heavy or 'none'}"))
            edited = Path(tmp) / "edited"
            shutil.copytree(folder, edited)
            edit(edited)
            rerender, heavy, _ = cli(["render", str(edited / "scene.json"), "-o", f"{tmp}/edited.mp4"])
            if heavy:
                sys.exit(f"render imported model modules: {heavy}")
            firsts.append(first)
            rerenders.append(rerender)
            ratios.append(rerender / first)  # a pair run back to back: the same load on both
    rows.insert(0, ("first translate -o, wall s", f"{statistics.median(firsts):.1f}",
                    "median of " + ", ".join(f"{x:.1f}" for x in firsts)))
    rows.insert(1, ("render after an edit, wall s", f"{statistics.median(rerenders):.1f}",
                    "median of " + ", ".join(f"{x:.1f}" for x in rerenders) + "; no model module imported"))
    rows.insert(2, ("render after an edit / first run", f"{statistics.median(ratios):.0%}",
                    "median of the pairs " + ", ".join(f"{x:.0%}" for x in ratios) + " (target <= 40 %)"))
    if args.rerender_only:
        _table(args.clip, rows)
        return
    calls = count_io(clip)
    rows.append(("media.probe / media.iter_audio calls in one run_job", f"{calls['probe']} / {calls['iter_audio']}",
                 "target 1 / 1"))
    for stage, after in (("faces", 20), ("asd", 5)):
        trials = [ctrl_c(clip, stage, after) for _ in range(args.repeat)]
        rows.append((f"Ctrl-C during {stage} -> exit, s", f"{max(trials):.2f}",
                     "max of " + ", ".join(f"{x:.2f}" for x in trials) + " (target < 1 s)"))
    helps = []
    for _ in range(max(args.repeat, 5)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sceneglot", "--help"], capture_output=True, cwd=ROOT, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        helps.append(time.perf_counter() - t)
    rows.append(("sceneglot --help, s", f"{statistics.median(helps):.2f}", "median (target < 0.5 s)"))
    _table(args.clip, rows)


def _table(clip: str, rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'what (' + clip + ')':<{width}}  {'figure':>8}  note")
    for what, figure, note in rows:
        print(f"{what:<{width}}  {figure:>8}  {note}")
    print("load avg", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
