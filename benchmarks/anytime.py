"""Benchmark: the anytime protocol, on a quiet machine and under load.

Each case runs the real command line (``python -m nnvsml compare ... --quiet --out DIR``) as a
subprocess, once per mode:

- ``quiet``: nothing else running (beyond what the machine already does);
- ``loaded``: this script first starts a CPU hog (``python -c "while True: pass"``, one busy
  core; ``--hogs`` for more), waits 2 s, runs the comparison and stops the hog afterwards,
  whatever happens.

While the command runs, the script reads the run's results.json every 0.2 s (it is rewritten
atomically after each model; it may not exist yet) and notes, from the command's start, when the
first scored (``ok``) model of each family appeared: the "anytime" promise is that each family
has a result early, not only at the end.

Cases (``all`` runs them in order):

    demo       the bundled demo, no DATA (default budget 120 s, analyses as default)
    adult60    ../shared/data/adult/adult.tsv.gz --target target --budget 60  --analyses none
    adult120   ../shared/data/adult/adult.tsv.gz --target target --budget 120 --analyses none
    mnist10k   8,000 + 2,000 MNIST images (the first of each official file, cached as an NPZ
               under benchmarks/cache/) --budget 300 --analyses none
    mnist      the full ../shared/data/mnist folder --budget 300 --analyses none

Targets, each printed PASS or FAIL:

- every candidate ends ``ok``, and both families are compared (an ``ok`` model in each);
- wall seconds of the whole command <= 1.1 x (--budget, plus the analysis budget when analyses
  run: by default half of --budget);
- the verdict's family is the same quiet and loaded;
- adult120 quiet: best traditional test accuracy >= 0.869, best neural >= 0.850;
- mnist quiet: CNN test accuracy >= 0.990.

Results: ``benchmarks/results/anytime-<case>-<mode>.json`` (the runs themselves under
``benchmarks/results/runs/``), a one-line summary per run and a Markdown table on stdout for
BENCHMARKS.md. Exit status 1 when a target fails.

    python benchmarks/anytime.py demo                      # quiet, then loaded
    python benchmarks/anytime.py adult60 adult120 --modes quiet
    python benchmarks/anytime.py all
    python benchmarks/anytime.py all --report              # table and targets from saved JSON
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / "cache"

FAMILIES = ("traditional", "neural")
MODES = ("quiet", "loaded")
POLL_SECONDS = 0.2
HOG_WARMUP_SECONDS = 2.0
#: The wall-clock target: the whole command within 10% of what it was given.
WALL_SLACK = 1.1


def _adult() -> list[str]:
    return [str(DATA / "adult" / "adult.tsv.gz"), "--target", "target"]


def _mnist10k(n_train: int = 8000, n_test: int = 2000) -> list[str]:
    """The first ``n_train`` training and ``n_test`` test images of MNIST's official files,
    written once as ``benchmarks/cache/mnist10k.npz`` (``x_train, y_train, x_test, y_test``)."""
    path = CACHE / "mnist10k.npz"
    if not path.exists():
        arrays = {}
        for prefix, part, n in (("train", "train", n_train), ("t10k", "test", n_test)):
            arrays[f"x_{part}"] = _idx(DATA / "mnist" / f"{prefix}-images-idx3-ubyte.gz", n)
            arrays[f"y_{part}"] = _idx(DATA / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", n)
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".partial.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    return [str(path)]


def _idx(path: Path, n: int) -> np.ndarray:
    """The first ``n`` items of a gzipped IDX file (uint8 data)."""
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return body.reshape(dims)[:n].copy()


#: case -> (--budget passed, or None for the command's default; that budget; the DATA arguments)
CASES = {
    "demo": (None, 120.0, lambda: []),
    "adult60": (60.0, 60.0, _adult),
    "adult120": (120.0, 120.0, _adult),
    "mnist10k": (300.0, 300.0, _mnist10k),
    "mnist": (300.0, 300.0, lambda: [str(DATA / "mnist")]),
}
#: Cases whose analyses are turned off (--analyses none); the others run the default analyses.
NO_ANALYSES = {"adult60", "adult120", "mnist10k", "mnist"}


def _read_results(path: Path) -> dict | None:
    """results.json, or None while it does not exist or cannot be read."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _start_hogs(n: int) -> list[subprocess.Popen]:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)]
    time.sleep(HOG_WARMUP_SECONDS)
    return hogs


def _stop(procs: list[subprocess.Popen]) -> list[float | None]:
    """Kill ``procs`` and wait for them; the CPU seconds each used, where it could be read."""
    used = []
    for p in procs:
        cpu = None
        try:
            import psutil

            t = psutil.Process(p.pid).cpu_times()
            cpu = round(t.user + t.system, 1)
        except Exception:  # psutil missing or the process already gone
            pass
        used.append(cpu)
        if p.poll() is None:
            p.kill()
        p.wait()
    return used


def run(case: str, mode: str, seed: int = 0, hogs: int = 1) -> dict:
    """One run of the command line for ``case`` in ``mode``; writes and returns its summary."""
    budget_arg, default_budget, data = CASES[case]
    data_args = data()
    tag = f"anytime-{case}-{mode}"
    out = RESULTS / "runs" / tag
    if out.exists():  # the same --out would resume the old run
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "nnvsml", "compare", *data_args]
    if budget_arg is not None:
        cmd += ["--budget", f"{budget_arg:g}"]
    if case in NO_ANALYSES:
        cmd += ["--analyses", "none"]
    cmd += ["--seed", str(seed), "--quiet", "--out", str(out)]
    log_path = RESULTS / "runs" / f"{tag}.log"

    results_path = out / "results.json"
    first_family: dict[str, float] = {}
    first_model: dict[str, float] = {}
    hog_procs: list[subprocess.Popen] = []
    hog_cpu: list[float | None] = []
    proc = None
    try:
        if mode == "loaded":
            hog_procs = _start_hogs(hogs)
        load_start = os.getloadavg()
        with open(log_path, "w") as log:
            start = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            while True:
                done = proc.poll() is not None
                now = time.monotonic() - start
                results = _read_results(results_path)
                for m in (results or {}).get("models", []):
                    if m.get("status") == "ok":
                        first_model.setdefault(m["name"], round(now, 2))
                        first_family.setdefault(m["family"], round(now, 2))
                if done:
                    break
                time.sleep(POLL_SECONDS)
            wall = time.monotonic() - start
        load_end = os.getloadavg()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        hog_cpu = _stop(hog_procs)

    results = _read_results(results_path) or {}
    protocol = results.get("protocol") or {}
    evidence = results.get("evidence") or {}
    budget = protocol.get("budget_seconds") or budget_arg or default_budget
    analyses_run = case not in NO_ANALYSES
    analysis_budget = (evidence.get("budget_seconds", budget / 2) if analyses_run else 0.0)
    metric = protocol.get("primary_metric")
    summary = {
        "case": case, "mode": mode,
        "command": " ".join(["nnvsml", *cmd[3:]]).replace(str(ROOT) + os.sep, "")
                   .replace(str(ROOT.parent), ".."),
        "wall_seconds": round(wall, 2),
        "budget_seconds": budget,
        "analyses": "default" if analyses_run else "none",
        "analysis_budget_seconds": analysis_budget,
        "exit_code": proc.returncode,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "date": time.strftime("%Y-%m-%d %H:%M")},
        "load": {"hogs": len(hog_procs), "hog_cpu_seconds": hog_cpu,
                 "loadavg_start": [round(x, 2) for x in load_start],
                 "loadavg_end": [round(x, 2) for x in load_end]},
        "primary_metric": metric,
        "greater_is_better": protocol.get("greater_is_better", True),
        "protocol_wall_seconds": protocol.get("wall_seconds"),
        "evidence_seconds": evidence.get("seconds"),
        "verdict": {k: (results.get("verdict") or {}).get(k) for k in ("family", "model")},
        "first_ok_seconds": {"by_family": first_family, "by_model": first_model},
        "models": [{
            "name": m.get("name"), "family": m.get("family"), "status": m.get("status"),
            "reason": m.get("reason"),
            "test": {k: (m.get("test") or {}).get(k) for k in {metric, "accuracy"} if k},
            "evaluation": {k: (m.get("evaluation") or {}).get(k)
                           for k in ("level", "stage", "tuned", "trained_rows", "sampled",
                                     "second_stage")},
            "wall_seconds": (m.get("cost") or {}).get("wall_seconds"),
            "peak_memory_mb": (m.get("cost") or {}).get("peak_memory_mb"),
        } for m in results.get("models", [])],
    }
    if proc.returncode != 0:
        summary["log_tail"] = log_path.read_text(errors="replace")[-2000:]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{tag}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# ---- reading the summaries ---------------------------------------------------------------------
def _best(s: dict, family: str, metric: str | None = None) -> tuple[str, float] | None:
    """The best ``ok`` model of ``family`` by the test ``metric`` (default the primary one)."""
    metric = metric or s["primary_metric"]
    greater = True if metric == "accuracy" else s.get("greater_is_better", True)
    sign = 1 if greater else -1
    scored = [(m["name"], m["test"][metric]) for m in s["models"]
              if m["family"] == family and m["status"] == "ok"
              and (m.get("test") or {}).get(metric) is not None]
    return max(scored, key=lambda t: sign * t[1]) if scored else None


def _wall_limit(s: dict) -> float:
    return WALL_SLACK * (s["budget_seconds"] + (s.get("analysis_budget_seconds") or 0.0))


def line(s: dict) -> str:
    ok = sum(m["status"] == "ok" for m in s["models"])
    first = s["first_ok_seconds"]["by_family"]
    return (f"{s['case']:>9} {s['mode']:<6} exit {s['exit_code']}  wall {s['wall_seconds']:.0f} s "
            f"(budget {s['budget_seconds']:g} s, limit {_wall_limit(s):.0f} s)  ok {ok}/"
            f"{len(s['models'])}  verdict {s['verdict']['family']} ({s['verdict']['model']})  "
            f"first ok: traditional {_s(first.get('traditional'))} s, neural "
            f"{_s(first.get('neural'))} s  load {s['load']['loadavg_start'][0]:.1f}->"
            f"{s['load']['loadavg_end'][0]:.1f}")


def markdown(summaries: list[dict]) -> str:
    lines = ["| case | mode | wall s | budget | wall/budget | models ok / total | verdict | "
             "best traditional | best neural | first traditional s | first neural s |",
             "|---|---|---:|---:|---:|---:|---|---|---|---:|---:|"]
    for s in summaries:
        ok = sum(m["status"] == "ok" for m in s["models"])
        first = s["first_ok_seconds"]["by_family"]
        best = [_best(s, f) for f in FAMILIES]
        cells = [f"{b[0]} {b[1]:.4f}" if b else "" for b in best]
        lines.append(
            f"| {s['case']} | {s['mode']} | {s['wall_seconds']:.0f} | {s['budget_seconds']:g} | "
            f"{s['wall_seconds'] / s['budget_seconds']:.2f} | {ok} / {len(s['models'])} | "
            f"{s['verdict']['family']} ({s['verdict']['model']}) | {cells[0]} | {cells[1]} | "
            f"{_s(first.get('traditional'))} | {_s(first.get('neural'))} |")
    metric = {s["primary_metric"] for s in summaries if s.get("primary_metric")}
    if metric:
        lines.append("")
        lines.append(f"Best models by test {' / '.join(sorted(metric))} (the primary metric). "
                     "Wall: the whole command; the limit is 1.1 x (budget + analysis budget when "
                     "analyses run).")
    return "\n".join(lines)


def targets(summaries: list[dict]) -> list[tuple[str, bool, str]]:
    """(target, passed, detail) for every target the given runs can check."""
    out = []
    for s in summaries:
        name = f"{s['case']} {s['mode']}"
        bad = [f"{m['name']} {m['status']}" for m in s["models"] if m["status"] != "ok"]
        out.append((f"{name}: exit 0 and every candidate ok",
                    s["exit_code"] == 0 and bool(s["models"]) and not bad,
                    f"exit {s['exit_code']}; " + (", ".join(bad) or f"{len(s['models'])} ok")))
        fams = sorted({m["family"] for m in s["models"] if m["status"] == "ok"})
        out.append((f"{name}: both families compared", set(fams) == set(FAMILIES)
                    and s["verdict"]["family"] is not None,
                    f"ok families {fams}, verdict {s['verdict']['family']}"))
        out.append((f"{name}: wall <= {_wall_limit(s):.0f} s", s["wall_seconds"] <= _wall_limit(s),
                    f"{s['wall_seconds']:.1f} s"))
        if s["case"] == "adult120" and s["mode"] == "quiet":
            for family, floor in (("traditional", 0.869), ("neural", 0.850)):
                b = _best(s, family, "accuracy")
                out.append((f"{name}: best {family} test accuracy >= {floor}",
                            b is not None and b[1] >= floor,
                            f"{b[0]} {b[1]:.4f}" if b else "no ok model"))
        if s["case"] == "mnist" and s["mode"] == "quiet":
            cnn = next((m for m in s["models"] if m["name"] == "cnn"), None)
            acc = ((cnn or {}).get("test") or {}).get("accuracy")
            out.append((f"{name}: cnn test accuracy >= 0.990", acc is not None and acc >= 0.990,
                        f"{acc:.4f}" if acc is not None else f"cnn {(cnn or {}).get('status')}"))
    by_case: dict[str, dict[str, dict]] = {}
    for s in summaries:
        by_case.setdefault(s["case"], {})[s["mode"]] = s
    for case, modes in by_case.items():
        if set(MODES) <= set(modes):
            a, b = (modes[m]["verdict"]["family"] for m in MODES)
            out.append((f"{case}: same verdict family quiet and loaded", a is not None and a == b,
                        f"quiet {a}, loaded {b}"))
    return out


def _s(v) -> str:
    return "" if v is None else f"{v:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Runs each case quiet, then loaded (a CPU hog started and stopped by this script); "
               "results in benchmarks/results/anytime-<case>-<mode>.json.")
    parser.add_argument("cases", nargs="+", metavar="CASE",
                        help=f"any of: {', '.join(CASES)}, or all")
    parser.add_argument("--modes", default="quiet,loaded",
                        help="comma-separated, of quiet and loaded (default: quiet,loaded)")
    parser.add_argument("--seed", type=int, default=0, help="passed to nnvsml compare (default 0)")
    parser.add_argument("--hogs", type=int, default=1,
                        help="busy-looping processes in loaded mode (default 1: one core)")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: table and targets from the saved JSON of the cases")
    args = parser.parse_args()
    cases = list(CASES) if "all" in args.cases else args.cases
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}, all")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(MODES):
        parser.error(f"--modes takes a comma-separated list of {', '.join(MODES)}")
    if args.hogs < 1:
        parser.error("--hogs must be at least 1")

    summaries = []
    for case in cases:
        for mode in modes:
            if args.report:
                path = RESULTS / f"anytime-{case}-{mode}.json"
                if not path.exists():
                    print(f"{case} {mode}: no {path.relative_to(ROOT)}", flush=True)
                    continue
                s = json.loads(path.read_text())
            else:
                s = run(case, mode, seed=args.seed, hogs=args.hogs)
            summaries.append(s)
            print(line(s), flush=True)
    if not summaries:
        raise SystemExit(1)
    print()
    print(markdown(summaries))
    print()
    checks = targets(summaries)
    for name, passed, detail in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}  ({detail})")
    if not all(passed for _, passed, _ in checks):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
