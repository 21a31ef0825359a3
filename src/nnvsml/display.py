"""What a person sees while a comparison runs and when it ends (Rich).

Progress, notices and per-model lines go to stderr; the leaderboard and the verdict, the answer,
go to stdout, so ``nnvsml compare > answer.txt`` keeps the answer and shows the progress.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from nnvsml.comparison import Reporter
from nnvsml.errors import printable
from nnvsml.metrics import metric_names
from nnvsml.results import leaderboard


class RichReporter(Reporter):
    def __init__(self, out: Console | None = None, err: Console | None = None,
                 live: bool = True) -> None:
        self.live = live
        self.out = out or wide_console()
        self.err = err or wide_console(stderr=True)
        self.progress: Progress | None = None
        self.task_id = None
        self.budget = None
        #: What each lane (thread) runs now, and its last message: families side by side on a
        #: cluster show both.
        self.current: dict[int, str] = {}
        self.last_message: dict[int, str] = {}

    # -- events ---------------------------------------------------------------------------
    def start(self, dataset, protocol, candidates, kept, budget, run_dir) -> None:
        self.budget = budget
        self.metric = protocol.primary_metric
        e = self.err
        show_data(dataset, protocol, e)
        pools = ", ".join(f"{f} {s:.0f} s" for f, s in budget.pool.items())
        bounded = math.isfinite(budget.total)
        if protocol.trials is not None:
            cap = f"capped at {budget.total:.0f} s" if bounded else "no time cap"
            e.print(f"budget: {protocol.trials} tuning trial(s) per candidate ({protocol.search}), "
                    f"trained without a clock; {cap}")
        else:
            side = (f"the {budget.lanes} families side by side on the cluster, "
                    if budget.lanes > 1 else "")
            e.print(f"budget: {protocol.budget_seconds:.0f} s, {side}equal share per family "
                    f"({pools}); tuning: {protocol.search}")
        if kept:
            e.print(f"[green]resuming[/] {safe(run_dir)}: keeping {len(kept)} finished "
                    "model(s): " + safe(", ".join(sorted(kept))))
        if not self.live:
            return
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=24),
            TextColumn("{task.fields[clock]}"), console=e, transient=True,
        )
        self.progress.start()
        self.task_id = self.progress.add_task("starting", total=budget.total if bounded else None,
                                              clock="")

    def model_start(self, candidate, time_limit) -> None:
        limit = f"limit {time_limit:.0f} s" if math.isfinite(time_limit) else "no time limit"
        self.current[threading.get_ident()] = (f"[bold]{safe(candidate.name)}[/] "
                                               f"({candidate.family}, {limit})")
        self._refresh("starting")

    def model_progress(self, message) -> None:
        self._refresh(message)

    def model_end(self, entry) -> None:
        self.current.pop(threading.get_ident(), None)
        self.last_message.pop(threading.get_ident(), None)
        self.err.print(model_line(entry, self.metric))

    def analysis_start(self, name, time_limit) -> None:
        limit = f"limit {time_limit:.0f} s" if math.isfinite(time_limit) else "no time limit"
        self.current = {threading.get_ident(): f"evidence: [bold]{name.replace('_', ' ')}[/] "
                                               f"({limit})"}
        self.last_message = {}
        self._refresh("starting")

    def analysis_end(self, name, block) -> None:
        status = block.get("status")
        color = {"ok": "green", "skipped": "dim"}.get(status, "red")
        why = f": {safe(block['reason'])}" if block.get("reason") else ""
        self.err.print(f"  evidence [bold]{name}[/] [{color}]{status}[/] "
                       f"({block.get('seconds') or 0:.1f} s){why}")

    def finish(self, results, run_dir: Path) -> None:
        if self.progress is not None:
            self.progress.stop()
        show_leaderboard(results, self.out)
        show_verdict(results["verdict"], self.out)
        report = results.get("report") or {}
        if report.get("status") == "ok":
            self.out.print(f"report: [bold]{safe(run_dir / report['path'])}[/]")
        elif report:
            self.err.print(f"[yellow]the report could not be drawn:[/] "
                           f"{safe(report.get('reason'))}; run 'nnvsml report {safe(run_dir)}' "
                           "to try again")
        self.out.print(f"run directory: [bold]{safe(run_dir)}[/] (results.json, leaderboard.csv, "
                       "models/)")

    # -- helpers --------------------------------------------------------------------------
    def notice(self, message: str) -> None:
        self.err.print(f"[yellow]notice:[/] {safe(message)}")

    def _refresh(self, message: str | None) -> None:
        if self.progress is None or self.budget is None:
            return
        if message:
            self.last_message[threading.get_ident()] = safe(message)
        description = " | ".join(f"{now} {self.last_message.get(lane, '')}".rstrip()
                                 for lane, now in list(self.current.items()))
        elapsed = self.budget.elapsed()
        if not math.isfinite(self.budget.total):
            self.progress.update(self.task_id, description=description,
                                 clock=f"{_clock(elapsed)} elapsed")
            return
        left = max(0.0, self.budget.total - elapsed)
        self.progress.update(
            self.task_id, completed=min(elapsed, self.budget.total),
            description=description,
            clock=f"{_clock(elapsed)} elapsed, {_clock(left)} of budget left",
        )


def _target_summary(dataset) -> str:
    if dataset.target is not None:
        return f"target '{safe(dataset.target)}'"
    scored = dataset.info.get("evaluate_with")
    return (f"no target; scored against '{safe(scored)}', which no model sees" if scored
            else "no target, no evaluation column")


def show_data(dataset, protocol, console: Console) -> None:
    """The data as read, what was decided about it, and the protocol: what a run starts with."""
    rows = dataset.stream["sampling"]["rows"] if dataset.stream is not None else dataset.n_rows
    console.print(f"[bold]nnvsml compare[/] · [cyan]{safe(dataset.name)}[/]: "
                  f"{rows:,} rows, [bold]{dataset.modality}[/] "
                  f"({_input_summary(dataset)}), task [bold]{dataset.task}[/] "
                  f"({_target_summary(dataset)})")
    for notice in dict.fromkeys([*dataset.notices, *protocol.notices]):  # a run merges them
        console.print(f"[yellow]notice:[/] {safe(notice)}")
    if dataset.modality == "tabular":
        console.print(columns_table(dataset))
    split = {"given": "split given with the data", "stratified": "stratified split",
             "random": "random split"}[protocol.split]
    validation = (f"{protocol.cv_folds}-fold CV" if protocol.validation == "cv" else
                  f"one validation part of {len(protocol.folds[0][1]):,} rows")
    trained = (f"{len(protocol.train_idx):,} training rows in memory (of "
               f"{dataset.stream['sampling']['train_rows']:,})" if dataset.stream is not None
               else f"{len(protocol.train_idx):,} training")
    console.print(f"protocol: {trained} / "
                  f"{len(protocol.test_idx):,} test rows ({split}, seed {protocol.seed}), "
                  f"{validation}, primary metric [bold]{protocol.primary_metric}[/] "
                  f"({protocol.primary_metric_reason})")


def show_plan(plan, console: Console) -> None:
    """``nnvsml compare --dry-run``: what would run, with nothing trained or written."""
    show_data(plan.dataset, plan.protocol, console)
    for family in ("traditional", "neural"):
        names = [c.name for c in plan.candidates if c.family == family]
        console.print(f"{family}: {', '.join(names) if names else '(none)'}")
    config = plan.config
    bound = (f"{config.trials} tuning trial(s) per candidate" if config.trials is not None
             else f"{config.budget:g} s")
    console.print(f"would run: {len(plan.candidates)} candidate(s), {bound}, search "
                  f"{config.search}; dry run: nothing trained or written")


def _input_summary(dataset) -> str:
    info, shape = dataset.info, getattr(dataset.X, "shape", ())
    if dataset.modality == "tabular":
        return f"{dataset.n_features} feature columns"
    if dataset.modality == "image":
        colours = "grayscale" if shape[3] == 1 else "RGB" if shape[3] == 3 else f"{shape[3]} channels"
        return f"{shape[1]}x{shape[2]} pixels, {colours}"
    if dataset.modality == "sequence":
        channels = "univariate" if shape[1] == 1 else f"{shape[1]} channels"
        return f"series of length {shape[2]}, {channels}"
    if dataset.modality == "audio":
        return f"{shape[1]} mel bands x {shape[2]} frames" + (
            f" at {info['sample_rate']} Hz" if "sample_rate" in info else "")
    return "free text" + (f", median {info['median_chars']} characters"
                          if "median_chars" in info else "")


def wide_console(stderr: bool = False) -> Console:
    """Output to a file or a CI log is not cut to 80 columns, as Rich does by default."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=max(console.width, 132))
    return console


def columns_table(dataset, max_plain: int = 8) -> Table:
    """Every column whose kind needs a second look, in full; plain complete numeric columns are
    summarised once there are many of them (a 500-column table is not read row by row)."""
    table = Table(title="columns", title_justify="left", show_edge=False, pad_edge=False)
    for head in ("column", "kind", "missing", "unique", "note"):
        table.add_column(head)
    plain = [c for c in dataset.columns if c.kind == "numeric" and not c.missing_fraction and not c.note]
    hidden = plain[max_plain:] if len(plain) > max_plain + 1 else []
    for c in dataset.columns:
        if c in hidden:
            continue
        table.add_row(safe(c.name), c.kind, _pct(c.missing_fraction), f"{c.n_unique:,}",
                      safe(c.note),
                      style=None if c.used else "dim")
    if hidden:
        table.add_row(f"... {len(hidden)} more", "numeric", "0%", "", "complete numeric columns",
                      style="dim")
    return table


def _pct(share: float) -> str:
    return "0%" if not share else ("<1%" if share < 0.01 else f"{share:.0%}")


def model_line(entry: dict, metric: str) -> str:
    name = f"{safe(entry['name'])} ({entry['family']})"
    if entry["status"] != "ok":
        return f"[red]✗[/] {name}: [red]{entry['status']}[/]: {safe(entry['reason'])}"
    cv = entry["cv"].get(metric) or {}
    test = entry["test"].get(metric)
    cost = entry["cost"]
    evaluation = entry.get("evaluation") or {}
    # Which part of the protocol the score comes from: the anytime first fit, or the folds.
    label = "cv" if evaluation.get("level", "cross_validated") == "cross_validated" else "valid"
    stage_words = {"secure": "first fit", "again": "longer fit",
                   "stream": "first fit; then trained on every row"}
    if evaluation.get("stage") in stage_words:
        label = f"{stage_words[evaluation['stage']]}, {label}"
    if evaluation.get("sampled"):
        label += f" ({evaluation.get('trained_rows'):,} rows)"
    score = (f"{label} {metric} {cv.get('mean'):.4f} ± {cv.get('std') or 0:.4f}"
             if cv.get("mean") is not None else "")
    test_s = f", test {test:.4f}" if test is not None else ""
    ci = (entry.get("test_ci") or {}).get(metric)
    if ci and test is not None:
        test_s += f" [{ci['low']:.4f}, {ci['high']:.4f}]"
    tuning = entry.get("tuning") or {}
    tuned = (f", {tuning['trials']} trial(s) in {tuning['seconds']:.0f} s"
             if tuning.get("trials") else "")
    return (f"[green]✓[/] {name}: {score}{test_s}{tuned}, fit {cost['fit_seconds']:.2f} s, "
            f"{cost['wall_seconds']:.0f} s in all")


def show_leaderboard(results: dict, console: Console) -> None:
    df = leaderboard(results)
    metric = results["protocol"]["primary_metric"]
    task = results["dataset"]["task"]
    # One more test metric where it adds a view the primary one lacks (ranking quality), and the
    # cost columns, when the console is wide enough for them.
    compact = console.width < 110
    extra = [] if compact else [m for m in ("roc_auc", "r2") if m in metric_names(task) and m != metric][:1]
    costs = ("fit s", "ms/1k") if compact else ("fit s", "ms/1k", "MB", "KB")
    for family in ("traditional", "neural"):
        part = df[df["family"] == family]
        if part.empty:
            continue
        table = Table(title=f"{family} models", title_justify="left")
        table.add_column("model", no_wrap=True)
        table.add_column(f"cv {metric}", justify="right", no_wrap=True)
        table.add_column(f"test {metric}", justify="right")
        if not compact:
            table.add_column("95% CI", justify="right", no_wrap=True)
        table.add_column("trials", justify="right")
        for t in extra:
            table.add_column(f"test {t}", justify="right")
        for head in costs:
            table.add_column(head, justify="right")
        table.add_column("status", no_wrap=True)
        failures = []
        for _, r in part.iterrows():
            style = "bold green" if r["best_in_family"] else None
            name = ("★ " if r["best_in_family"] else "  ") + safe(r["model"])
            cv = (f"{r[f'cv_{metric}_mean']:.4f} ± {r[f'cv_{metric}_std']:.{3 if compact else 4}f}"
                  if _num(r[f"cv_{metric}_mean"]) and _num(r[f"cv_{metric}_std"]) else "")
            if r["status"] != "ok":
                failures.append(printable(f"  {r['model']}: {r['status']}: {r['reason']}"))
            cost_cells = [_f(r["fit_seconds"], 2), _f(r["predict_ms_per_1k"], 1),
                          _f(r["peak_memory_mb"], 0), _f(r["model_size_kb"], 0)][:len(costs)]
            ci = ([f"{_f(r[f'test_{metric}_low'])}–{_f(r[f'test_{metric}_high'])}"
                   if _num(r[f"test_{metric}_low"]) else ""] if not compact else [])
            trials = str(int(r["trials"])) if _num(r["trials"]) else ""
            table.add_row(name, cv, _f(r[f"test_{metric}"]), *ci, trials,
                          *[_f(r[f"test_{t}"]) for t in extra], *cost_cells, r["status"],
                          style=style)
        console.print(table)
        for line in failures:
            console.print(line, style="red", markup=False)
    console.print("95% CI: bootstrap interval of the test score; trials: tuning trials; fit s: "
                  "refit on all training rows; ms/1k: prediction time per 1,000 rows; MB: peak "
                  "memory of the model's process; KB: saved model size", style="dim")


def show_verdict(verdict: dict | None, console: Console) -> None:
    if not verdict:
        return
    family = verdict["family"]
    color = {"traditional": "cyan", "neural": "magenta"}.get(family, "yellow")
    head = (f"[bold {color}]{safe(family.upper())}[/]"
            + (f": {safe(verdict['model'])}" if verdict.get("model") else ""))
    if verdict.get("priority", "accuracy") != "accuracy":
        head += f" [dim](priority: {safe(verdict['priority'])})[/]"
    lines = [head, *[f"• {safe(r)}" for r in verdict["reasons"]]]
    if verdict.get("would_change"):
        lines += ["[bold]What would change it[/]",
                  *[f"• {safe(w)}" for w in verdict["would_change"]]]
    # Undecided, the reasons already list every exclusion.
    if verdict.get("excluded") and verdict.get("decided", True):
        broken: dict[str, list[str]] = {}
        for e in verdict["excluded"]:
            broken.setdefault(e["model"], []).append(
                "no intrinsic explanation" if e["constraint"] == "require_explanations"
                else f"{e['constraint']} {e['value']:.3g} > {e['limit']:g}")
        lines.append("[dim]excluded by constraints: " + safe("; ".join(
            f"{name} ({', '.join(why)})" for name, why in broken.items())) + "[/]")
    console.print(Panel(Group(*lines), title="verdict", title_align="left", border_style=color))


def safe(text) -> str:
    """Text from the data or from a results file, as Rich markup that prints it literally:
    no markup of its own, and no control characters that would drive the terminal."""
    return escape(printable(str(text)))


def _num(value) -> bool:
    return value is not None and value == value  # NaN != NaN


def _f(value, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if _num(value) else ""


def _clock(seconds: float) -> str:
    return time.strftime("%M:%S", time.gmtime(max(0.0, seconds))) if seconds < 3600 else f"{seconds / 3600:.1f} h"
