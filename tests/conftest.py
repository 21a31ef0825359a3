from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def cancer_df() -> pd.DataFrame:
    """569 real rows, 30 numeric features, binary target named 'diagnosis'."""
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame.rename(columns={"target": "diagnosis"})
    df["diagnosis"] = df["diagnosis"].map({0: "malignant", 1: "benign"})
    return df


@pytest.fixture(scope="session")
def cancer_csv(tmp_path_factory, cancer_df) -> Path:
    path = tmp_path_factory.mktemp("data") / "cancer.csv"
    cancer_df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def results_follow_their_schema():
    """Every results.json the suite writes (in this process) is checked against
    nnvsml/schema/results.schema.json right after it is written: a violation fails the test
    that wrote it, naming the keys at fault."""
    from nnvsml.results import RunStore
    from nnvsml.schema import validate

    save = RunStore.save

    def save_and_validate(self, *args, **kwargs):
        out = save(self, *args, **kwargs)
        validate(json.loads(self.path.read_text(encoding="utf-8")))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RunStore, "save", save_and_validate)
        yield


@pytest.fixture(scope="session", autouse=True)
def private_signing_key(tmp_path_factory):
    """The suite signs run directories with a key of its own, not the user's (and the commands
    it starts as subprocesses inherit it)."""
    import os

    from nnvsml import artifacts

    home = tmp_path_factory.mktemp("config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(home))
        artifacts._key.cache_clear()
        yield home
    artifacts._key.cache_clear()
    assert os.environ.get("XDG_CONFIG_HOME") != str(home)


# --- a shared PostgreSQL storage ----------------------------------------------------------------

def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@pytest.fixture()
def postgres(tmp_path):
    """A throwaway PostgreSQL server on a free local port; the test is skipped, with the reason,
    when none can be started here."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian package 'postgresql'; .ci/run installs it)")
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    # Outside pytest's private temporary folders, which the server's user may not enter.
    home = Path(tempfile.mkdtemp(prefix="nnvsml-pg-"))
    home.chmod(0o755)
    data = home / "pg"
    user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        user = ["runuser", "-u", "postgres", "--"]
        data.mkdir()
        shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = subprocess.run([*user, str(bindir / "initdb"), "-D", str(data), "-U", "nnvsml",
                           "-A", "trust"], capture_output=True, text=True)
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-200:]}")
    start = subprocess.run(
        [*user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
         "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
        capture_output=True, text=True)
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()[-200:]}")
    try:
        yield f"postgresql+psycopg://nnvsml@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
