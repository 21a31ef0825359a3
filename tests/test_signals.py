"""Ctrl-C and SIGTERM stop a run cleanly (issue: hostile input): one line on stderr, exit 130
(Ctrl-C) or 143 (SIGTERM), no traceback from any process, no process left behind, and
results.json marked ``interrupted``, never left ``running``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest


def start(tmp_path: Path, cancer_csv: Path) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "run"
    # --trials: no deadline, so only the signal can end it in time.
    cmd = [sys.executable, "-m", "nnvsml", "compare", str(cancer_csv), "--target", "diagnosis",
           "--out", str(out), "--trials", "500", "--search", "random", "--models", "mlp",
           "--analyses", "none", "--no-report", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_as_a_terminal_starts_it)
    return proc, out


def _as_a_terminal_starts_it() -> None:
    """Ctrl-C reaches the command: a shell without job control starts background jobs with
    SIGINT ignored (a CI runner, `make test &`), and the command would inherit that through
    pytest; a terminal starts a command with SIGINT at its default and unblocked."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_worker(proc: subprocess.Popen, out: Path) -> list[psutil.Process]:
    """The command's processes once a candidate's process is at work."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        family = psutil.Process(proc.pid).children(recursive=True)
        if (out / "logs" / "mlp.log").exists() and any("nnvsml-mlp" in " ".join(_cmd(p))
                                                       or p.name() == "python" for p in family):
            time.sleep(1.0)  # into the candidate's training
            return psutil.Process(proc.pid).children(recursive=True)
        time.sleep(0.2)
    pytest.fail(f"no candidate started: {proc.poll()} {proc.stderr.read() if proc.poll() else ''}")


def _cmd(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def assert_stopped_cleanly(proc, out, family, code: int, word: str) -> None:
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    # The progress went to stderr too: the stop itself is its last line, one line.
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"nnvsml: {word}; ") and lines[-1].endswith("to resume"), stderr
    assert json.loads((out / "results.json").read_text())["status"] == "interrupted"
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, [(p.pid, _cmd(p)) for p in alive]
    log = (out / "logs" / "mlp.log").read_text()
    assert "KeyboardInterrupt" not in log


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, cancer_csv):
    proc, out = start(tmp_path, cancer_csv)
    family = wait_for_worker(proc, out)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    assert_stopped_cleanly(proc, out, family, 130, "interrupted")


def test_sigterm_stops_every_process_and_exits_143(tmp_path, cancer_csv):
    proc, out = start(tmp_path, cancer_csv)
    family = wait_for_worker(proc, out)
    proc.send_signal(signal.SIGTERM)  # to the main process only, as `kill PID` does
    assert_stopped_cleanly(proc, out, family, 143, "terminated")


@pytest.mark.parametrize("after", [0.3, 1.5])
def test_ctrl_c_during_start_up_prints_no_traceback(tmp_path, cancer_csv, after):
    proc, out = start(tmp_path, cancer_csv)
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("nnvsml: interrupted"), stderr


class _StartThatIsInterrupted:
    """A process whose start is where Ctrl-C lands (in a run: sending the forkserver its
    request; cut off there, the server dies printing a traceback)."""

    def __init__(self, signum: int) -> None:
        self.signum, self.started = signum, False

    def start(self) -> None:
        signal.raise_signal(self.signum)
        self.started = True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_process_start_acts_once_the_start_is_whole(signum):
    from nnvsml.protocol.runner import start_whole

    def stop(number, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        process = _StartThatIsInterrupted(signum)
        with pytest.raises(KeyboardInterrupt):
            start_whole(process)
        assert process.started
        assert signal.getsignal(signal.SIGTERM) is stop  # the run's own handlers are back
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
