"""Do networks need far more data? Score against training-set size for each family's best.

Sizes are log-spaced from a few dozen rows per class up to every row the analysis can afford;
each size is drawn ``REPEATS`` times (different rows and seeds; twice when time is short). A power law
``score = c - a * n^(-b)`` (the usual shape of learning curves: Hestness et al. 2017) is fitted
per family, and the size at which the curves cross is found where it was measured, or else
extrapolated from the fits, with a band from refits on bootstrap resamples of the points.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy.optimize import curve_fit

from nnvsml.data.dataset import take
from nnvsml.evidence.context import AnalysisContext

N_SIZES = 5
REPEATS = 3
#: Extrapolation beyond this many times the rows at hand is not reported as a crossing.
MAX_EXTRAPOLATION = 100.0
BOOTSTRAPS = 200


#: Metrics a single fit cannot be scored on: they compare a model's refits.
REFIT_METRICS = {"stability_ari", "stability_rho"}


def run(ctx: AnalysisContext) -> dict:
    started = time.monotonic()
    if ctx.metric in REFIT_METRICS:
        return {"status": "skipped", "seconds": 0.0,
                "reason": f"the run's metric ({ctx.metric}) compares refits of a model, not one "
                          "fit against known answers: pass --evaluate-with for a learning curve"}
    families = list(ctx.subjects)
    full = len(ctx.train_rows)
    smallest = _smallest(ctx)
    # The largest size that lets every fit end in time (REPEATS fits at each of N_SIZES
    # log-spaced sizes); with too little time for three, two draws per size.
    def plan(repeats: int) -> dict[str, list[float]]:
        return {f: list(np.repeat(np.geomspace(smallest / full, 1.0, N_SIZES), repeats))
                for f in families}

    repeats = REPEATS if ctx.fits_in_time(plan(REPEATS), 4 * smallest) else 2
    top = ctx.affordable_rows(plan(repeats), least=min(full, 4 * smallest))
    sizes = sorted({int(round(s)) for s in np.geomspace(min(smallest, top), top, N_SIZES)})
    eval_rows = ctx.eval_rows_used()
    X_eval, y_eval = ctx.eval_set()
    block = {"status": "running", "reason": None, "metric": ctx.metric, "sizes": sizes,
             "repeats": repeats, "n_train": ctx.n_train, "available_rows": full,
             "families": {f: {"model": ctx.subjects[f].name, "points": [], "fit": None}
                          for f in families}}
    fits_left = len(sizes) * len(families) * repeats
    for size in sizes:
        for family in families:
            scores, costs = [], []
            for r in range(repeats):
                if ctx.out_of_time():
                    break
                ctx.progress(f"{family} on {size:,} rows ({r + 1}/{repeats})")
                rows = ctx.sample(size, seed=1 + r)
                # Small sizes end early and leave their time to the large ones.
                est = ctx.build(family, size, fits_left=fits_left)
                fits_left -= 1
                with FitMeter() as meter:
                    ctx.fit(est, take(ctx.X, rows), ctx.y[rows])
                costs.append((meter.seconds, meter.peak_mb))
                scores.append(ctx.score(est, X_eval, y_eval, eval_rows))
            scores = [s for s in scores if s is not None]
            if scores:
                block["families"][family]["points"].append(
                    {"size": size, "scores": scores, "mean": float(np.mean(scores)),
                     "std": float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0,
                     "fit_seconds": round(float(np.median([c[0] for c in costs])), 4),
                     "fit_peak_mb": round(float(np.median([c[1] for c in costs])), 1)})
        # Kept if the time runs out: the curves so far and how their cost grew, without their
        # crossing (its bootstrap band costs seconds, which every size would pay).
        grown = {f: {**b, "growth": cost_growth(b["points"], full)}
                 for f, b in block["families"].items()}
        ctx.partial({**block, "families": grown, "status": "timeout",
                     "reason": f"ran out of time after {size:,} rows",
                     "crossing": _not_looked_for(size),
                     "seconds": round(time.monotonic() - started, 3)})
    for family in families:
        block["families"][family]["fit"] = fit_power_law(block["families"][family]["points"])
        block["families"][family]["growth"] = cost_growth(block["families"][family]["points"],
                                                          full)
    block["crossing"] = crossing(block, ctx.higher_is_better, full, ctx.n_train)
    measured = min(len(f["points"]) for f in block["families"].values())
    if measured < len(sizes):
        block["reason"] = (f"measured {measured} of {len(sizes)} sizes before the analysis's "
                           "time ran out; raise --analysis-budget for the rest")
    elif len(sizes) < 3:
        block["reason"] = (f"only {len(sizes)} training size(s) fit between {sizes[0]:,} and "
                           f"{sizes[-1]:,} rows in the time; a curve needs 3 (raise "
                           "--analysis-budget)")
    block.update(status="ok" if measured >= 3 else "timeout",
                 seconds=round(time.monotonic() - started, 3))
    return block


class FitMeter:
    """Wall seconds of a fit and the most resident memory it added over what the process held
    before it (sampled every 10 ms by a thread: a fit's allocations are mostly outside Python,
    in numpy, LightGBM or torch, where tracemalloc cannot see them all)."""

    INTERVAL = 0.01

    def __enter__(self) -> FitMeter:
        import threading

        import psutil

        self._process = psutil.Process()
        self._base = self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._start = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.peak_mb = max(0.0, (self._peak - self._base) / 2**20)


def cost_growth(points: list[dict], available: int) -> dict | None:
    """How fit time and memory grow with rows: ``cost = k * n^e`` by least squares in log-log
    over the measured sizes, and what it projects for ten times the rows at hand. None below
    three sizes. Memory is fitted only where the fits added a measurable amount (1 MB)."""
    if len(points) < 3:
        return None
    n = np.array([p["size"] for p in points], dtype=float)
    out = {"form": "cost = k * n^e", "rows_projected": 10 * available}
    for key, name, least in (("fit_seconds", "time", 1e-4), ("fit_peak_mb", "memory", 1.0)):
        y = np.array([p.get(key, 0.0) for p in points], dtype=float)
        keep = y >= least
        if keep.sum() < 3:
            out[name] = None
            continue
        e, log_k = np.polyfit(np.log(n[keep]), np.log(y[keep]), 1)
        pred = log_k + e * np.log(n[keep])
        ss_res = float(np.sum((np.log(y[keep]) - pred) ** 2))
        ss_tot = float(np.sum((np.log(y[keep]) - np.log(y[keep]).mean()) ** 2))
        out[name] = {"exponent": round(float(e), 3), "k": float(np.exp(log_k)),
                     "r2": round(1.0 - ss_res / ss_tot, 3) if ss_tot > 0 else None,
                     "at_10x": round(float(np.exp(log_k) * (10 * available) ** e), 3)}
    return out


def _not_looked_for(size: int) -> dict:
    return {"status": "none", "size": None, "low": None, "high": None, "ratio": None,
            "leader_now": None, "leader_then": None,
            "sentence": f"The analysis's time ran out after {size:,} rows, before the curves' "
                        "crossing was looked for; raise --analysis-budget."}


def _smallest(ctx: AnalysisContext) -> int:
    """A few rows per class (a network needs its validation split to hold every class), and at
    most a quarter of the rows, so that even a small set (a UCR series set of 50) spans sizes
    a factor 4 apart."""
    classes = len(ctx.classes) if ctx.classes else 2
    full = len(ctx.train_rows)
    return int(min(full, max(4 * classes, min(max(50, 20 * classes), full // 4))))


def _law(n, a, b, c):
    return c - a * np.power(n, -b)


def fit_power_law(points: list[dict]) -> dict | None:
    """``score = c - a * n^(-b)`` by least squares over the repeats' means; None when fewer than
    three sizes were measured or the fit does not converge."""
    if len(points) < 3:
        return None
    n = np.array([p["size"] for p in points], dtype=float)
    s = np.array([p["mean"] for p in points], dtype=float)
    params = _fit(n, s)
    if params is None:
        return None
    a, b, c = params
    pred = _law(n, a, b, c)
    ss_res, ss_tot = float(np.sum((s - pred) ** 2)), float(np.sum((s - s.mean()) ** 2))
    return {"form": "score = c - a * n^(-b)", "a": float(a), "b": float(b), "c": float(c),
            "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else None}


def _fit(n: np.ndarray, s: np.ndarray):
    span = float(np.ptp(s)) or 1e-3
    # a > 0 and b > 0 mean "improves with data"; a < 0 lets a curve that worsens be fitted too.
    guess = (span * n[0] ** 0.5, 0.5, float(s[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            params, _ = curve_fit(_law, n, s, p0=guess, bounds=([-np.inf, 1e-3, -np.inf],
                                                                  [np.inf, 3.0, np.inf]),
                                  maxfev=20000)
        except (RuntimeError, ValueError):
            return None
    return params if np.all(np.isfinite(params)) else None


def crossing(block: dict, higher: bool, available: int, n_train: int) -> dict:
    """Where the two families' curves cross: measured between two sizes, or extrapolated from
    the power laws (with a 90% band from bootstrap refits), or not at all."""
    fams = block["families"]
    out = {"status": "none", "size": None, "low": None, "high": None, "ratio": None,
           "leader_now": None, "leader_then": None, "sentence": ""}
    if not {"traditional", "neural"} <= set(fams):
        out["sentence"] = "Only one family was measured: no crossing to look for."
        return out
    t, n = fams["traditional"], fams["neural"]
    sign = 1.0 if higher else -1.0
    sizes = [p["size"] for p in t["points"] if p["size"] in {q["size"] for q in n["points"]}]
    if not sizes:
        out["sentence"] = "The curves share no measured size."
        return out
    mt = {p["size"]: p["mean"] for p in t["points"]}
    mn = {p["size"]: p["mean"] for p in n["points"]}
    diff = [sign * (mt[s] - mn[s]) for s in sizes]  # > 0: traditional ahead
    # The leader at the largest size where the two differ (a dead heat says nothing).
    last = next((d for d in reversed(diff) if d != 0), 0.0)
    out["leader_now"] = "traditional" if last > 0 else "neural" if last < 0 else None
    nonzero = [(s, d) for s, d in zip(sizes, diff) if d != 0]
    for (s0, d0), (s1, d1) in zip(nonzero, nonzero[1:]):
        if d0 * d1 < 0:  # the lead changed hands between these two sizes
            lo, hi = np.log(s0), np.log(s1)
            w = d0 / (d0 - d1)
            size = float(np.exp(lo + w * (hi - lo)))
            out.update(status="measured", size=size, low=float(s0), high=float(s1),
                       ratio=size / n_train, leader_then=out["leader_now"])
    if out["status"] == "measured":
        out["sentence"] = (f"The curves cross at about {out['size']:,.0f} training rows "
                           f"(measured between {out['low']:,.0f} and {out['high']:,.0f}); "
                           f"beyond it the {out['leader_now']} model leads.")
        return out
    if not (t["fit"] and n["fit"]) or out["leader_now"] is None:
        out["sentence"] = "The curves do not cross where they were measured, and no crossing " \
                          "could be projected."
        return out
    size = _projected(t["fit"], n["fit"], sign, sizes[-1], available)
    trailing = "neural" if out["leader_now"] == "traditional" else "traditional"
    if size is None:
        out["sentence"] = (f"The {out['leader_now']} model leads at every measured size and the "
                           f"fitted curves do not project the {trailing} model to pass it "
                           f"within {MAX_EXTRAPOLATION:.0f}x the rows at hand.")
        return out
    band = _band(t, n, sign, sizes[-1], available)
    ratio = size / n_train
    out.update(status="extrapolated", size=size, ratio=ratio, leader_then=trailing,
               low=band[0] if band else None, high=band[1] if band else None)
    names = {f: fams[f]["model"] for f in fams}
    band_text = f"; 90% band {band[0]:,.0f} to {band[1]:,.0f}" if band else ""
    passing = (f"the {names[trailing]} ({trailing}) is projected to pass the "
               f"{names[out['leader_now']]} ({out['leader_now']})")
    if ratio >= 1.05:
        out["sentence"] = (f"With about {_times(ratio)} your rows ({size:,.0f} training rows"
                           f"{band_text}) {passing}.")
    else:
        out["sentence"] = (f"From about {size:,.0f} training rows ({ratio:.1f}x the {n_train:,} "
                           f"the comparison trained on{band_text}) {passing}: at your data size "
                           "the two are close.")
    return out


def _projected(ft: dict, fn: dict, sign: float, last: float, available: int) -> float | None:
    grid = np.geomspace(last, MAX_EXTRAPOLATION * max(available, last), 400)
    gap = sign * (_law(grid, ft["a"], ft["b"], ft["c"]) - _law(grid, fn["a"], fn["b"], fn["c"]))
    flips = np.nonzero(np.sign(gap[1:]) != np.sign(gap[:-1]))[0]
    return float(grid[flips[0] + 1]) if len(flips) else None


def _band(t: dict, n: dict, sign: float, last: float, available: int) -> tuple | None:
    """5th and 95th percentiles of the projected crossing over refits to resampled repeats."""
    rng = np.random.default_rng(0)
    found = []
    for _ in range(BOOTSTRAPS):
        fits = []
        for fam in (t, n):
            sizes = np.array([p["size"] for p in fam["points"]], dtype=float)
            means = np.array([np.mean(rng.choice(p["scores"], len(p["scores"])))
                              for p in fam["points"]])
            params = _fit(sizes, means)
            fits.append(None if params is None else dict(zip("abc", params)))
        if None in fits:
            continue
        size = _projected(fits[0], fits[1], sign, last, available)
        if size is not None:
            found.append(size)
    if len(found) < BOOTSTRAPS // 4:
        return None
    return float(np.percentile(found, 5)), float(np.percentile(found, 95))


def _times(ratio: float) -> str:
    if ratio < 1:
        return f"{ratio:.1f}x"
    return f"{ratio:.0f}x" if ratio >= 3 else f"{ratio:.1f}x"
