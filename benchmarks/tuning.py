"""Benchmark of issue 4: tuning, the budget rule and the significance outcome.

1. adult and satimage at ``--budget 300``: every model tuned (``--search bayesian``, the
   default) and untuned (``--search none``), test score side by side, with each run's verdict
   and the significance of its comparison.
2. satimage at ``--budget 60``, ``300`` and ``900`` (tuned): the planned seconds against the
   wall-clock seconds of the whole command, and per family what was spent and on tuning.

    python benchmarks/tuning.py                 # everything (about 40 minutes on 2 cores)
    python benchmarks/tuning.py --part budgets

Results: ``benchmarks/results/tuning-*.json`` and Markdown on stdout for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_compare import RESULTS, run  # noqa: E402


def tuned_vs_default(names=("adult", "satimage"), budget: float = 300) -> str:
    out = []
    for name in names:
        runs = {search: run(name, budget, options=["--search", search],
                            tag=f"tuning-{name}-{search}")
                for search in ("none", "bayesian")}
        out.append(_table(name, budget, runs))
    return "\n\n".join(out)


def _table(name: str, budget: float, runs: dict) -> str:
    metric = runs["none"]["primary_metric"]
    lines = [f"#### {name}, `--budget {budget:g}`: tuned (`--search bayesian`) vs default "
             f"(`--search none`), test {metric}", "",
             f"| model | family | default test | tuned test | tuned − default | trials | "
             f"tuning s | tuning-rows gain |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    default = {m["name"]: m for m in runs["none"]["models"]}
    for m in runs["bayesian"]["models"]:
        d = default.get(m["name"], {})
        a, b = (d.get("test") or {}).get(metric), (m.get("test") or {}).get(metric)
        t = m.get("tuning") or {}
        gain = (t["best_score"] - t["default_score"]
                if t.get("best_score") is not None and t.get("default_score") is not None else None)
        lines.append(f"| {m['name']} | {m['family']} | {_f(a, d.get('status'))} | "
                     f"{_f(b, m['status'])} | {_d(a, b)} | {t.get('trials') or 0} | "
                     f"{_f(t.get('seconds'), 'ok', 0)} | {_d(0, gain) if gain is not None else ''} |")
    for search, r in runs.items():
        v = r["verdict"]
        c = v.get("comparison") or {}
        rows = c.get("test_rows") or {}
        lines.append("")
        lines.append(
            f"- `--search {search}`: wall {r['wall_seconds']:.0f} s; verdict **{v['family']}** "
            f"({v['model']}); CV {c.get('traditional_model')} vs {c.get('neural_model')}: "
            f"difference {_d(0, c.get('difference'))}, 95% CI {_d(0, c.get('ci_low'))} to "
            f"{_d(0, c.get('ci_high'))}, p = {_p(c.get('p_value'))} ({c.get('test')}); test rows: "
            f"difference {_d(0, rows.get('difference'))}, p = {_p(rows.get('p_value'))} "
            f"({rows.get('test')}), agrees: {rows.get('agrees')}")
    return "\n".join(lines)


def budgets(name: str = "satimage", seconds=(60, 300, 900)) -> str:
    lines = [f"#### planned vs actual seconds ({name}, `--search bayesian`)", "",
             "| --budget | wall s (whole command) | traditional planned / spent / tuning | "
             "neural planned / spent / tuning | verdict | p (CV) |",
             "|---:|---:|---|---|---|---:|"]
    for budget in seconds:
        r = run(name, budget, options=["--search", "bayesian"], tag=f"tuning-budget-{budget}")
        fam = (r.get("budget") or {}).get("by_family") or {}
        cells = [" / ".join(_f(fam.get(f, {}).get(k), "ok", 0)
                            for k in ("planned", "spent", "tuning"))
                 for f in ("traditional", "neural")]
        c = r["verdict"].get("comparison") or {}
        lines.append(f"| {budget} | {r['wall_seconds']:.0f} | {cells[0]} | {cells[1]} | "
                     f"{r['verdict']['family']} ({r['verdict']['model']}) | "
                     f"{_p(c.get('p_value'))} |")
    return "\n".join(lines)


def _f(v, status="ok", d=4):
    if status and status != "ok":
        return status
    return "" if v is None else f"{v:.{d}f}"


def _d(a, b):
    return "" if a is None or b is None else f"{b - a:+.4f}"


def _p(p):
    return "" if p is None else f"{p:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["tuned", "budgets"])
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.part in (None, "tuned"):
        print(tuned_vs_default(), "\n", flush=True)
    if args.part in (None, "budgets"):
        print(budgets(), "\n", flush=True)


if __name__ == "__main__":
    main()
