"""The workflow through a real single-node SLURM cluster with snakemake-executor-plugin-slurm and profiles/slurm.

Starts munged (as user munge), slurmctld and slurmd on this machine (Debian packages ``slurmctld slurmd
slurm-client munge``, no systemd needed), runs the sharded-prediction config of tests/workflow/test_workflow_shards.py
with ``--workflow-profile profiles/slurm``, and always cancels the jobs and stops every daemon it started.
Skipped unless root with those packages installed. About 1.5-3 minutes.

Facts this relies on (snakemake-executor-plugin-slurm 2.8.0, SLURM 22.05):

- Without slurmdbd, ``sacct`` status polling never sees a job end: the profile sets ``slurm-status-command:
  squeue``, which the plugin only honours when ``MinJobAge`` >= 3 x ``slurm-init-seconds-before-status-checks``
  (otherwise it silently falls back to sacct); here 300 s and 2 s.
- No ``slurm_account`` (its check needs sacctmgr).
- The plugin's job step strips ``SLURM_CONF`` before its inner ``srun``, so the config must be at the default
  ``/etc/slurm/slurm.conf``: the test writes it there (marked as its own) only when no other file is there,
  and removes it at the end.
- Snakemake cancels its jobs on SIGINT, not on SIGTERM.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_workflow_shards import REPO, check_outputs, env, prepare_workdir, snakemake_command

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by seqxent tests/workflow/test_slurm.py (removed when the test ends)"
MUNGE_KEY = Path("/etc/munge/munge.key")
TOOLS = ("munged", "runuser", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scancel", "scontrol")
LOCK = Path("/tmp/seqxent-slurm-test.lock")

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _skip_reason() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root (starts munged, slurmctld, slurmd)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing or not MUNGE_KEY.is_file():
        return f"needs the Debian packages slurmctld slurmd slurm-client munge (missing: {missing or MUNGE_KEY})"
    if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} exists: a real SLURM configuration is left alone"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _slurm_conf(root: Path, node: str, cpus: int) -> str:
    settings = {
        "ClusterName": "seqxenttest", "SlurmctldHost": f"{node}(127.0.0.1)",
        "SlurmctldPort": _free_port(), "SlurmdPort": _free_port(), "SlurmUser": "root",
        "AuthType": "auth/munge", "CredType": "cred/munge", "AuthInfo": f"socket={root / 'munge' / 'socket'}",
        "StateSaveLocation": root / "state", "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid", "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "slurmctld.log", "SlurmdLogFile": root / "slurmd.log",
        # No cgroups, no systemd: plain process tracking; one node of this machine's CPUs.
        "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none", "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory", "DefMemPerCPU": 1000, "SlurmdParameters": "config_overrides",
        # squeue must still list a job this long after it ended (see the module docstring).
        "MinJobAge": 300, "ReturnToService": 2, "MpiDefault": "none",
        "AccountingStorageType": "accounting_storage/none", "JobAcctGatherType": "jobacct_gather/none",
    }
    lines = [MARKER, *(f"{key}={value}" for key, value in settings.items()),
             f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=16000 State=UNKNOWN",
             "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP"]
    return "\n".join(lines) + "\n"


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Expected {what} within {seconds} s")
        time.sleep(0.5)


def _start(command: list[str], pid_file: Path, started: list[Path]) -> None:
    """Start a daemon (it forks and writes ``pid_file``) and remember the pid file for the teardown."""
    started.append(pid_file)
    subprocess.run(command, check=True, timeout=60)
    _wait_for(pid_file.is_file, 30, f"{pid_file} to appear")


def _stop(pid_file: Path) -> None:
    """Stop the daemon of a pid file: SIGTERM, then SIGKILL after 15 s."""
    if not pid_file.is_file():
        return
    pid = int(pid_file.read_text().split()[0])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            _wait_for(lambda: not Path(f"/proc/{pid}").exists(), 15, f"pid {pid} to stop")
        os.kill(pid, signal.SIGKILL)


def _node_idle() -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip() == "idle"


@contextlib.contextmanager
def single_node_slurm() -> Iterator[Path]:
    """A private single-node SLURM cluster for the duration of the block; every daemon is stopped after.

    Yields its folder (state, logs, the munge socket), a world-readable temporary directory as munged runs
    as user munge; it is removed at the end.
    """
    started: list[Path] = []
    root = Path(tempfile.mkdtemp(prefix="seqxent-slurm-"))
    root.chmod(0o755)
    munge = root / "munge"
    for folder in (munge, root / "state", root / "spool"):
        folder.mkdir(parents=True)
    shutil.chown(munge, "munge", "munge")
    munge.chmod(0o755)  # munged wants its socket directory readable and searchable by all
    try:
        _start(["runuser", "-u", "munge", "--", "munged", f"--socket={munge / 'socket'}", f"--key-file={MUNGE_KEY}",
                f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}"], munge / "munged.pid", started)
        node = socket.gethostname().split(".")[0]
        SLURM_CONF.write_text(_slurm_conf(root, node, max(2, os.cpu_count() or 1)))
        _start(["slurmctld", "-i"], root / "slurmctld.pid", started)
        _start(["slurmd"], root / "slurmd.pid", started)
        _wait_for(_node_idle, 60, "the node to be idle")
        yield root
    finally:
        if root / "slurmctld.pid" in started:  # cancel whatever is left, then stop the daemons, newest first
            with contextlib.suppress(Exception):
                subprocess.run(["scancel", "--full", "--partition=main"], timeout=30, check=False)
                _wait_for(lambda: not subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout,
                          30, "the queue to be empty")
        for pid_file in reversed(started):
            _stop(pid_file)
        if SLURM_CONF.is_file() and MARKER in SLURM_CONF.read_text():
            SLURM_CONF.unlink()
        shutil.rmtree(root, ignore_errors=True)


def _run_snakemake(command: list[str], log: Path, timeout: float) -> int:
    """Run snakemake; on timeout interrupt it with SIGINT (it cancels its SLURM jobs), then kill it."""
    with open(log, "w") as out:
        proc = subprocess.Popen(command, env=env(), stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise


def test_sharded_prediction_through_slurm(tmp_path):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with open(LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.skip("another SLURM test is running on this machine")
        workdir = tmp_path / "work"
        workdir.mkdir()
        prepare_workdir(workdir)
        command = snakemake_command(workdir, "--workflow-profile", str(REPO / "profiles" / "slurm"),
                                    "--slurm-init-seconds-before-status-checks", "2")
        with single_node_slurm():
            status = _run_snakemake(command, tmp_path / "snakemake.log", timeout=600)
        log = (tmp_path / "snakemake.log").read_text()
        assert status == 0, log[-5000:]
        assert log.count("has been submitted with SLURM jobid") == 6  # 2 shard, 2 predict_fasta of shards, merge, whole
        check_outputs(workdir)
