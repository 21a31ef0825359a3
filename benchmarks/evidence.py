"""Benchmark of issue 5: the time the analyses add to a comparison, and what they found.

adult, satimage, a 10,000-row MNIST subset, SMS spam and the UCR GunPoint series, each compared
at its budget with every analysis (the default, ``--analysis-budget`` = half of ``--budget``): the comparison's seconds,
each analysis's seconds and status, the report's, and the verdict with what would change it.

    python benchmarks/evidence.py                 # the five datasets (about 35 minutes, 2 cores)
    python benchmarks/evidence.py adult

Results: ``benchmarks/results/evidence-*.json``, the runs (with report.html) under
``benchmarks/results/runs/evidence-*``, and Markdown on stdout for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_compare import RESULTS, run  # noqa: E402

BUDGETS = {"adult": 300, "satimage": 180, "mnist10k": 300, "sms_spam": 300, "ucr_gunpoint": 180}
ANALYSES = ("energy", "overfitting", "learning_curve", "data_quality", "gradients",
            "explanations")


def table(rows: list[dict]) -> str:
    head = ["dataset", "budget s", "comparison s", *[a.replace("_", " ") + " s" for a in ANALYSES],
            "analyses s", "report s", "whole run s", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in rows:
        ev = s["evidence"] or {"analyses": {}}
        cells = []
        for a in ANALYSES:
            block = ev["analyses"].get(a) or {}
            mark = "" if block.get("status") == "ok" else f" ({block.get('status')})"
            cells.append(f"{block.get('seconds') or 0:.0f}{mark}")
        report = s.get("report") or {}
        lines.append("| " + " | ".join([
            s["dataset"], f"{s['budget_seconds']:g}", f"{s['comparison_seconds']:.0f}", *cells,
            f"{ev.get('seconds') or 0:.0f}", f"{report.get('seconds') or 0:.1f}",
            f"{s['wall_seconds']:.0f}",
            f"{s['verdict']['family']} ({s['verdict']['model']})"]) + " |")
    return "\n".join(lines)


def findings(name: str) -> str:
    """The evidence's headline numbers, read back from the run."""
    results = json.loads((RESULTS / "runs" / f"evidence-{name}" / "results.json").read_text())
    ev, v = results.get("evidence") or {}, results["verdict"]
    out = [f"**{name}** ({', '.join(f'{f}: {m}' for f, m in (ev.get('models') or {}).items())})"]
    lc = ev.get("learning_curve") or {}
    if lc.get("status") == "ok":
        out.append(f"- learning curve: {lc['crossing']['sentence']}")
    dq = ev.get("data_quality") or {}
    for kind, p in (dq.get("perturbations") or {}).items():
        drops = ", ".join(f"{f} {d:+.3f}" for f, d in p["drop"].items() if d is not None)
        out.append(f"- {kind.replace('_', ' ')} (to {p['levels'][-1]:g}): drop {drops}")
    ex = ev.get("explanations") or {}
    for fam, m in (ex.get("models") or {}).items():
        top = list(((m.get("shap") or {}).get("importance") or {}).items())[:3]
        out.append(f"- SHAP {fam} ({m['model']}, {m['shap']['explainer']}, {m['shap']['rows']} "
                   f"rows): " + ", ".join(f"{k} {v:.0%}" for k, v in top))
    if ex.get("agreement"):
        out.append(f"- explanations agree: Spearman {ex['agreement']['spearman']:.2f}, top-5 "
                   f"overlap {ex['agreement']['top_k_overlap']:.0%}")
    g = ev.get("gradients") or {}
    for label, r in (g.get("runs") or {}).items():
        out.append(f"- gradients {label}: {len(r['layers'])} layers, {r['epochs']} epochs, "
                   f"vanishing {r['flags']['vanishing'] or 'none'}, exploding "
                   f"{r['flags']['exploding'] or 'none'}")
    for w in v.get("would_change") or []:
        out.append(f"- would change it: {w}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(BUDGETS))
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        rows.append(run(name, BUDGETS[name], tag=f"evidence-{name}"))
        print(table(rows[-1:]), "\n", flush=True)
    print(table(rows), "\n")
    for name in args.datasets:
        print(findings(name), "\n")


if __name__ == "__main__":
    main()
