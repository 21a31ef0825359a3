"""Build ``src/nnvsml/data/bundled/adult_sample.csv.gz`` from PMLB's copy of UCI Adult.

PMLB stores Adult with its categories as integer codes and the original "?" as code 0; this script
decodes every coded column back into the original strings using PMLB's ``metadata.yaml`` (read with
a small regular expression, so no YAML library is needed), writes "?" as an empty field (a real
missing value), names the target ``income`` with the values ``<=50K`` / ``>50K``, takes a seeded
stratified sample and gzips it with a fixed timestamp. The same inputs give byte-identical output.

Usage (from the repository root)::

    python scripts/build_bundled_data.py [--source ../shared/data/adult] [--rows 6000] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "adult"
DEFAULT_OUT = REPO / "src" / "nnvsml" / "data" / "bundled" / "adult_sample.csv.gz"
TARGET = "income"
MISSING_LABEL = "?"

_SECTION = re.compile(r"^(target):|^\s*-\s*name:\s*(\S+)")
_CODE = re.compile(r"'([^']*)'\s*=\s*(\d+)")


def parse_codes(metadata: str) -> dict[str, dict[int, str]]:
    """``{column: {code: label}}`` from PMLB metadata, with code lines like ``'Private' = 4,``.

    The target's codes are filed under ``"target"``, the name of PMLB's label column.
    """
    codes: dict[str, dict[int, str]] = {}
    section = None
    for line in metadata.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1) or header.group(2)
            continue
        for label, code in _CODE.findall(line):
            if section is not None:
                codes.setdefault(section, {})[int(code)] = label
    return codes


def decode(df: pd.DataFrame, codes: dict[str, dict[int, str]]) -> pd.DataFrame:
    """Original labels, "?" as missing, whole numbers as integers, the target as ``income``."""
    out = pd.DataFrame(index=df.index)
    for column in df.columns:
        if column in codes:
            labels = df[column].map(codes[column])
            if labels.isna().any():
                raise ValueError(f"{column}: codes without a label in metadata.yaml")
            out[column] = labels.where(labels != MISSING_LABEL)
        elif np.all(np.mod(df[column], 1) == 0):
            # PMLB writes every continuous value as a float ("39.0"); the UCI original has integers.
            out[column] = df[column].astype(np.int64)
        else:
            out[column] = df[column]
    return out.rename(columns={"target": TARGET})


def stratified_sample(y: pd.Series, n: int, seed: int) -> np.ndarray:
    """Sorted row positions of a seeded sample of ``n`` rows with the class shares of ``y``."""
    rng = np.random.default_rng(seed)
    classes = sorted(y.unique())
    shares = y.value_counts(normalize=True)
    sizes = {c: int(round(n * shares[c])) for c in classes}
    sizes[classes[-1]] = n - sum(sizes[c] for c in classes[:-1])  # rounding must not change n
    labels = y.to_numpy()
    picked = [rng.choice(np.flatnonzero(labels == c), size=sizes[c], replace=False) for c in classes]
    return np.sort(np.concatenate(picked))


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with mtime 0 and no file name in the header, so the bytes depend on the data only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def build(source: Path, out: Path, rows: int, seed: int) -> None:
    codes = parse_codes((source / "metadata.yaml").read_text(encoding="utf-8"))
    raw = pd.read_csv(source / "adult.tsv.gz", sep="\t")
    table = decode(raw, codes)
    share_high = (table[TARGET] == ">50K").mean()
    # PMLB codes '<=50K' = 1 and '>50K' = 0; the census has about a quarter above 50K.
    if not 0.2 < share_high < 0.3:
        raise ValueError(f"unexpected share of '>50K': {share_high:.3f}; check the target codes")
    sample = table.iloc[stratified_sample(table[TARGET], rows, seed)]
    data = gzip_bytes(sample.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    print(f"wrote {out} ({len(sample)} rows, {len(data):,} bytes, sha256 {digest})")
    sample_high = (sample[TARGET] == ">50K").mean()
    print(f"'>50K' share: {share_high:.4f} in the source, {sample_high:.4f} in the sample")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="folder with adult.tsv.gz and metadata.yaml"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build(args.source, args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
