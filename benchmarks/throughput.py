"""Benchmark: training throughput of nnvsml's networks against a bare PyTorch loop.

An A/B pair in one process, for each network:

- ``mlp``: nnvsml's MLP candidate on ../shared/data/adult/adult.tsv.gz (every row; the candidate's
  own preprocessing pipeline in front of it);
- ``cnn``: nnvsml's CNN candidate on the first 10,000 training images of ../shared/data/mnist
  (its random shifts and rotations included: they run inside the module).

A (nnvsml): the candidate as the registry builds it (``nnvsml.models.get(name).build(ctx)``),
its final step set to a fixed number of epochs (``max_epochs=E``, ``early_stopping=False``,
``patience`` out of reach), then ``fit`` timed as a whole: preprocessing, conversion to tensors,
skorch's loop with its callbacks (gradient clipping, LR schedule, time limit) and the per-epoch
validation pass.

B (bare): the same ``torch.nn.Module`` class built with the same keyword arguments, the same
optimizer (AdamW, same learning rate and weight decay), loss, batch size, ``torch`` threads,
device and input tensors (the pipeline's transformed input, converted by the network's own
``_tensors``), in a plain loop: per epoch a shuffled pass of forward / backward / gradient
clipping (the same max norm, so both sides do the same arithmetic) / step, then a forward pass
over the validation rows. It holds out as many rows as nnvsml does (a seeded random split, not
stratified: the split's make-up does not change the cost) and has no LR schedule (one scalar
step per epoch). Tensors are prepared before its clock starts.

Samples per second = training rows per epoch x epochs / seconds. nnvsml holds out
``valid_fraction`` of the rows given to ``fit`` for validation each epoch: only the training
rows are counted, on both sides (the validation pass is in both sides' seconds). nnvsml's
samples/s are given twice: over the whole ``fit`` call, and over the epochs alone (the sum of
skorch's per-epoch durations). Each side runs ``--repeats`` times (default 3), alternating A, B,
A, B, ..., after one unrecorded warm-up of each; the medians are reported.

Target: nnvsml / bare >= 0.9 (median samples/s), over the whole fit and over the epochs. When a
ratio is below it, one nnvsml epoch (a one-epoch fit) is profiled with cProfile and the top 15
functions by cumulative time are printed, so the reader sees where the time goes.

Results: ``benchmarks/results/throughput.json`` and a Markdown table on stdout for
BENCHMARKS.md. Exit status 1 when a target fails.

    python benchmarks/throughput.py                  # both networks
    python benchmarks/throughput.py mlp --epochs-mlp 20
    python benchmarks/throughput.py cnn --repeats 5
    OMP_NUM_THREADS=1 python benchmarks/throughput.py   # both sides on one thread
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

TARGET_RATIO = 0.9
NETWORKS = ("mlp", "cnn")
MNIST_ROWS = 10_000


# ---- data and the nnvsml side ------------------------------------------------------------------
def load(network: str, rows: int | None) -> dict:
    """X, y and the BuildContext facts for ``network``'s data."""
    from nnvsml.data import load_dataset

    if network == "mlp":
        ds = load_dataset(DATA / "adult" / "adult.tsv.gz", target="target")
        X, y = ds.X, np.asarray(ds.y)
        if rows is not None:
            X, y = X.iloc[:rows], y[:rows]
        data = "adult (../shared/data/adult/adult.tsv.gz)"
    else:
        ds = load_dataset(DATA / "mnist")
        # The first training images of the official split.
        idx = np.asarray(ds.split[0])[:rows or MNIST_ROWS]
        X, y = ds.X[idx], np.asarray(ds.y)[idx]
        data = "MNIST (../shared/data/mnist), first training images"
    return {"X": X, "y": y, "task": ds.task, "kinds": ds.kinds(), "modality": ds.modality,
            "info": ds.info, "data": data}


def build(network: str, d: dict, epochs: int, seed: int):
    """The registry's candidate for ``network``, set to train exactly ``epochs`` epochs."""
    from nnvsml.models import BuildContext, get
    from nnvsml.models.steps import final_step

    ctx = BuildContext(task=d["task"], kinds=d["kinds"], n_train=len(d["y"]), seed=seed,
                       max_time=None, modality=d["modality"], info=d["info"])
    est = get(network).build(ctx)
    final_step(est).set_params(max_epochs=epochs, early_stopping=False, patience=10**9)
    return est


def nnvsml_fit(network: str, d: dict, epochs: int, seed: int) -> dict:
    """A: one timed ``fit``; its seconds, its epochs' seconds and the rows of each epoch."""
    import torch

    from nnvsml.models.steps import final_step

    est = build(network, d, epochs, seed)
    start = time.perf_counter()
    est.fit(d["X"], d["y"])
    seconds = time.perf_counter() - start
    final = final_step(est)
    net = final.net_
    batches = net.history[-1]["batches"]
    out = {
        "seconds": seconds,
        "epoch_seconds": float(sum(row["dur"] for row in net.history)),
        "epochs": len(net.history),
        "stopped_by": final.stopped_by_,
        "train_rows": int(sum(b.get("train_batch_size", 0) for b in batches)),
        "valid_rows": int(sum(b.get("valid_batch_size", 0) for b in batches)),
        "threads": torch.get_num_threads(),
    }
    if out["epochs"] != epochs:
        raise SystemExit(f"{network}: nnvsml trained {out['epochs']} epochs, not {epochs} "
                         f"(stopped by {final.stopped_by_})")
    return {**out, "estimator": est}


def describe(est) -> dict:
    """What B copies from a fitted A: module class and arguments, optimizer settings, ..."""
    from nnvsml.models.steps import final_step

    final = final_step(est)
    net = final.net_
    module_cls = net.module if isinstance(net.module, type) else type(net.module_)
    return {"module_cls": module_cls, "module_kwargs": net.get_params_for("module"),
            "lr": final.lr, "weight_decay": final.weight_decay, "batch_size": final.batch_size,
            "grad_clip": final.grad_clip, "device": final.device_,
            "valid_fraction": final.valid_fraction}


def bare_inputs(est, d: dict):
    """The tensors nnvsml's network trains on: the pipeline's output, through ``_tensors``."""
    import torch
    from sklearn.pipeline import Pipeline

    from nnvsml.models.steps import final_step

    final = final_step(est)
    X = est[:-1].transform(d["X"]) if isinstance(est, Pipeline) else d["X"]
    inputs = final._tensors(final._validate(X, reset=False))
    _, codes = np.unique(d["y"], return_inverse=True)  # as NetClassifier.fit encodes them
    return inputs, torch.from_numpy(codes.astype(np.int64))


# ---- the bare side -----------------------------------------------------------------------------
def _take(x, index):
    return {k: v[index] for k, v in x.items()} if isinstance(x, dict) else x[index]


def _to(x, device):
    return {k: v.to(device) for k, v in x.items()} if isinstance(x, dict) else x.to(device)


def _call(module, x):
    return module(**x) if isinstance(x, dict) else module(x)


def bare_fit(spec: dict, inputs, y, n_valid: int, epochs: int, seed: int, threads: int) -> dict:
    """B: a plain PyTorch loop over the same module, optimizer, batches and tensors."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    device = spec["device"]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=generator)
    valid, train = order[:n_valid], order[n_valid:]
    x_train, y_train = _to(_take(inputs, train), device), y[train].to(device)
    x_valid, y_valid = _to(_take(inputs, valid), device), y[valid].to(device)
    torch.manual_seed(seed)
    module = spec["module_cls"](**spec["module_kwargs"]).to(device)
    optimizer = torch.optim.AdamW(module.parameters(), lr=spec["lr"],
                                  weight_decay=spec["weight_decay"])
    loss_fn = nn.CrossEntropyLoss()
    bs, n_train = spec["batch_size"], len(train)
    rows = 0
    start = time.perf_counter()
    for _ in range(epochs):
        module.train()
        perm = torch.randperm(n_train, generator=generator)
        for lo in range(0, n_train, bs):
            index = perm[lo:lo + bs]
            if len(index) == 1:  # nnvsml drops a trailing one-row batch too (batch norm)
                continue
            optimizer.zero_grad()
            loss = loss_fn(_call(module, _take(x_train, index)), y_train[index])
            loss.backward()
            if spec["grad_clip"] is not None:
                nn.utils.clip_grad_norm_(module.parameters(), spec["grad_clip"])
            optimizer.step()
            loss.item()
            rows += len(index)
        module.eval()
        with torch.no_grad():
            for lo in range(0, n_valid, bs):
                loss_fn(_call(module, _take(x_valid, slice(lo, lo + bs))),
                        y_valid[lo:lo + bs]).item()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "train_rows": rows // epochs, "valid_rows": n_valid}


# ---- one A/B pair ------------------------------------------------------------------------------
def profile_epoch(network: str, d: dict, seed: int, top: int = 15) -> str:
    """cProfile of a one-epoch nnvsml fit: the ``top`` functions by cumulative time."""
    est = build(network, d, 1, seed)
    profiler = cProfile.Profile()
    profiler.enable()
    est.fit(d["X"], d["y"])
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def compare(network: str, epochs: int, repeats: int, seed: int, rows: int | None) -> dict:
    import torch

    d = load(network, rows)
    print(f"{network}: {len(d['y']):,} rows of {d['data']}, {epochs} epochs, {repeats} repeats",
          flush=True)
    # Warm-up, unrecorded: first-call costs (allocator, thread pool, kernels) hit neither side.
    warm = nnvsml_fit(network, d, 1, seed)
    spec = describe(warm["estimator"])
    inputs, y = bare_inputs(warm["estimator"], d)
    threads, n_valid = warm["threads"], warm["valid_rows"]
    bare_fit(spec, inputs, y, n_valid, 1, seed, threads)

    a_runs, b_runs = [], []
    for r in range(repeats):
        torch.set_num_threads(threads)
        a = nnvsml_fit(network, d, epochs, seed)
        a.pop("estimator")
        b = bare_fit(spec, inputs, y, n_valid, epochs, seed, threads)
        a_runs.append(a)
        b_runs.append(b)
        print(f"  repeat {r + 1}: nnvsml fit {a['seconds']:.2f} s "
              f"(epochs {a['epoch_seconds']:.2f} s), bare {b['seconds']:.2f} s", flush=True)
        if a["threads"] != threads:
            raise SystemExit(f"{network}: nnvsml ran on {a['threads']} threads, not {threads}")

    train_rows = a_runs[0]["train_rows"]
    a_fit = statistics.median(train_rows * epochs / a["seconds"] for a in a_runs)
    a_epochs = statistics.median(train_rows * epochs / a["epoch_seconds"] for a in a_runs)
    b_rate = statistics.median(b["train_rows"] * epochs / b["seconds"] for b in b_runs)
    out = {
        "network": network, "data": d["data"], "rows": len(d["y"]), "epochs": epochs,
        "repeats": repeats, "seed": seed,
        "train_rows_per_epoch": {"nnvsml": train_rows, "bare": b_runs[0]["train_rows"]},
        "valid_rows_per_epoch": n_valid,
        "module": f"{spec['module_cls'].__module__}.{spec['module_cls'].__name__}",
        "module_kwargs": {k: _jsonable(v) for k, v in spec["module_kwargs"].items()
                          if k not in ("mean", "std")},
        "batch_size": spec["batch_size"], "lr": spec["lr"], "weight_decay": spec["weight_decay"],
        "grad_clip": spec["grad_clip"], "device": spec["device"], "threads": threads,
        "nnvsml": {"fit_seconds": [round(a["seconds"], 3) for a in a_runs],
                   "epoch_seconds": [round(a["epoch_seconds"], 3) for a in a_runs],
                   "samples_per_second_fit": round(a_fit, 1),
                   "samples_per_second_epochs": round(a_epochs, 1),
                   "stopped_by": a_runs[0]["stopped_by"]},
        "bare": {"seconds": [round(b["seconds"], 3) for b in b_runs],
                 "samples_per_second": round(b_rate, 1)},
        "ratio_fit": round(a_fit / b_rate, 3),
        "ratio_epochs": round(a_epochs / b_rate, 3),
        "target_ratio": TARGET_RATIO,
    }
    if min(out["ratio_fit"], out["ratio_epochs"]) < TARGET_RATIO:
        out["profile_one_epoch"] = profile_epoch(network, d, seed)
    return out


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return v


def markdown(results: list[dict]) -> str:
    lines = ["| network | data | rows trained / epoch | epochs | batch | threads | "
             "nnvsml samples/s (fit) | nnvsml samples/s (epochs) | bare samples/s | "
             "ratio (fit) | ratio (epochs) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['network']} | {r['data'].split(' (')[0]} ({r['rows']:,} rows) | "
            f"{r['train_rows_per_epoch']['nnvsml']:,} | {r['epochs']} | {r['batch_size']} | "
            f"{r['threads']} | {r['nnvsml']['samples_per_second_fit']:,.0f} | "
            f"{r['nnvsml']['samples_per_second_epochs']:,.0f} | "
            f"{r['bare']['samples_per_second']:,.0f} | {r['ratio_fit']:.2f} | "
            f"{r['ratio_epochs']:.2f} |")
    lines.append("")
    lines.append("Medians of the repeats. Rows trained per epoch exclude the validation rows "
                 "held out each epoch (both sides run the validation pass in their seconds).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=f"Target: nnvsml / bare samples per second >= {TARGET_RATIO}. Results in "
               "benchmarks/results/throughput.json.")
    parser.add_argument("networks", nargs="*", metavar="NETWORK",
                        help=f"any of: {', '.join(NETWORKS)} (default: both)")
    parser.add_argument("--epochs-mlp", type=int, default=10, help="epochs of the MLP (default 10)")
    parser.add_argument("--epochs-cnn", type=int, default=5, help="epochs of the CNN (default 5)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each side, alternating (default 3)")
    parser.add_argument("--adult-rows", type=int, default=None,
                        help="use only the first N rows of adult (default: all)")
    parser.add_argument("--mnist-rows", type=int, default=MNIST_ROWS,
                        help=f"first N MNIST training images (default {MNIST_ROWS:,})")
    parser.add_argument("--seed", type=int, default=0, help="seeds both sides (default 0)")
    args = parser.parse_args()
    networks = args.networks or list(NETWORKS)
    unknown = sorted(set(networks) - set(NETWORKS))
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")
    if min(args.epochs_mlp, args.epochs_cnn, args.repeats) < 1:
        parser.error("--epochs-mlp, --epochs-cnn and --repeats must be at least 1")

    import torch

    results = []
    for network in networks:
        epochs = args.epochs_mlp if network == "mlp" else args.epochs_cnn
        rows = args.adult_rows if network == "mlp" else args.mnist_rows
        r = compare(network, epochs, args.repeats, args.seed, rows)
        results.append(r)
        print(f"{network}: nnvsml {r['nnvsml']['samples_per_second_fit']:,.0f} samples/s (fit), "
              f"{r['nnvsml']['samples_per_second_epochs']:,.0f} (epochs); bare "
              f"{r['bare']['samples_per_second']:,.0f}; ratio {r['ratio_fit']:.2f} (fit), "
              f"{r['ratio_epochs']:.2f} (epochs)", flush=True)
        if "profile_one_epoch" in r:
            print(f"\n{network}: one nnvsml epoch under cProfile, top 15 by cumulative time:")
            print(r["profile_one_epoch"], flush=True)

    summary = {
        "command": " ".join(["python benchmarks/throughput.py", *sys.argv[1:]]),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "date": time.strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__,
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "throughput.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(markdown(results))
    print()
    failed = False
    for r in results:
        for kind in ("fit", "epochs"):
            ratio = r[f"ratio_{kind}"]
            failed |= ratio < TARGET_RATIO
            print(f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}  {r['network']}: nnvsml / bare "
                  f"({kind}) {ratio:.2f} >= {TARGET_RATIO}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
