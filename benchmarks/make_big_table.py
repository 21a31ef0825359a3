"""A seeded synthetic table of any size for the large-table benchmarks, written part by part.

50 columns: 35 numeric (some skewed, some with missing values), 10 categorical (3 to 200
levels, some missing), 5 integer counts; a binary target that depends on a few of each through
interactions, so that both families have something to learn and more rows keep helping. The
table is written in Parquet row groups of 100,000 rows and never held in memory whole.

    python benchmarks/make_big_table.py --rows 1000000 --out big1m.parquet
    python benchmarks/make_big_table.py --rows 10000000 --out big10m.parquet
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PART_ROWS = 100_000
N_NUMERIC, N_CATEGORICAL, N_COUNTS = 35, 10, 5
LEVELS = [3, 5, 8, 12, 20, 30, 50, 80, 120, 200]


def part(rng: np.random.Generator, n: int) -> pa.Table:
    numeric = rng.normal(size=(n, N_NUMERIC))
    numeric[:, 5:10] = np.exp(numeric[:, 5:10])  # skewed
    codes = np.stack([rng.integers(0, k, n) for k in LEVELS], axis=1)
    counts = rng.poisson(lam=[1, 3, 5, 10, 20], size=(n, N_COUNTS))
    logit = (1.2 * numeric[:, 0] - 0.8 * numeric[:, 1] + 0.6 * numeric[:, 2] * numeric[:, 3]
             + 0.5 * np.sin(2 * numeric[:, 4]) - 0.3 * np.log(numeric[:, 5])
             + np.where(codes[:, 0] == 1, 0.9, -0.2) + 0.05 * (codes[:, 6] % 7)
             - 0.1 * (counts[:, 1] > 4) + 0.4 * np.tanh(numeric[:, 6] - numeric[:, 7]))
    target = (logit + rng.logistic(size=n) > 0.3).astype(np.int8)
    columns = {}
    for j in range(N_NUMERIC):
        values = numeric[:, j]
        if j % 7 == 3:  # every seventh numeric column has 10% missing values
            values = np.where(rng.random(n) < 0.1, np.nan, values)
        columns[f"num_{j:02d}"] = values.astype(np.float64)
    for j, k in enumerate(LEVELS):
        labels = np.array([f"c{j}_{i}" for i in range(k)], dtype=object)[codes[:, j]]
        labels[rng.random(n) < 0.03] = None
        columns[f"cat_{j}"] = pa.array(labels, type=pa.string())
    for j in range(N_COUNTS):
        columns[f"count_{j}"] = counts[:, j].astype(np.int64)
    columns["target"] = target
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    writer = None
    try:
        for start in range(0, args.rows, PART_ROWS):
            table = part(rng, min(PART_ROWS, args.rows - start))
            if writer is None:
                writer = pq.ParquetWriter(args.out, table.schema)
            writer.write_table(table, row_group_size=PART_ROWS)
    finally:
        if writer is not None:
            writer.close()
    print(f"{args.rows:,} rows x {N_NUMERIC + N_CATEGORICAL + N_COUNTS} columns -> {args.out} "
          f"in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
