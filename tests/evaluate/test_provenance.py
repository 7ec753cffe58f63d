import datetime
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import seqxent
from seqxent.evaluate import provenance

KEYS = {
    "seqxent_version",
    "python",
    "platform",
    "packages",
    "git_commit",
    "git_dirty",
    "data_files",
    "seeds",
    "config",
    "argv",
    "created",
}
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


@pytest.fixture
def outside_repo(tmp_path, monkeypatch):
    """Work in tmp_path and stop git from finding a repository in a parent directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    return tmp_path


@pytest.mark.parametrize("size", [0, 3, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17], ids=lambda n: f"{n}B")
def test_sha256_file_matches_hashlib(tmp_path, size):
    data = bytes(i * 7 % 251 for i in range(size))
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    assert provenance.sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_keys_and_values(outside_repo):
    data = outside_repo / "a.fasta"
    data.write_bytes(b">a\nACGT\n")
    record = provenance.collect_provenance(
        [data], seeds={"train": 1}, config={"out": Path("x/y"), "sizes": (1, 2)}, argv=["seqxent", "train"]
    )
    assert set(record) == KEYS
    assert record["seqxent_version"] == seqxent.__version__
    assert record["python"] == ".".join(map(str, sys.version_info[:3]))
    assert record["data_files"] == {str(data): hashlib.sha256(b">a\nACGT\n").hexdigest()}
    assert record["seeds"] == {"train": 1}
    assert record["config"] == {"out": "x/y", "sizes": [1, 2]}
    assert record["argv"] == ["seqxent", "train"]
    assert list(record["packages"]) == list(provenance.PACKAGES)
    assert record["packages"]["numpy"] == importlib.metadata.version("numpy")
    json.dumps(record)  # JSON-ready


def test_defaults(outside_repo):
    record = provenance.collect_provenance()
    assert record["data_files"] == {} and record["seeds"] == {} and record["config"] == {}
    assert record["argv"] == sys.argv


def test_created_is_utc_and_the_only_difference(outside_repo):
    first = provenance.collect_provenance(seeds={"a": 1}, argv=[])
    second = provenance.collect_provenance(seeds={"a": 1}, argv=[])
    created = datetime.datetime.fromisoformat(first.pop("created"))
    second.pop("created")
    assert created.utcoffset() == datetime.timedelta(0)
    assert first == second


def test_missing_package_is_none():
    assert provenance.package_versions(["numpy", "no-such-distribution-xyz"]) == {
        "numpy": importlib.metadata.version("numpy"),
        "no-such-distribution-xyz": None,
    }


def test_missing_data_file_raises(outside_repo):
    with pytest.raises(FileNotFoundError):
        provenance.collect_provenance([outside_repo / "missing.tsv"])


@needs_git
def test_git_unknown_outside_repo(outside_repo):
    record = provenance.collect_provenance()
    assert record["git_commit"] == "unknown"
    assert record["git_dirty"] is None


def test_git_missing_never_raises(outside_repo, monkeypatch):
    monkeypatch.setenv("PATH", str(outside_repo))  # no git executable here
    assert provenance.git_state() == ("unknown", None)


@needs_git
def test_git_commit_and_dirty_flag(outside_repo):
    def git(*args):
        return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (outside_repo / "tracked.txt").write_text("one\n")
    assert provenance.git_state() == ("unknown", False)  # repository without commits
    git("add", "tracked.txt")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.org",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "-m",
        "init",
    )
    (outside_repo / "untracked.txt").write_text("ignored for the dirty flag\n")
    assert provenance.git_state() == (git("rev-parse", "HEAD"), False)
    (outside_repo / "tracked.txt").write_text("two\n")
    commit, dirty = provenance.git_state(outside_repo)
    assert len(commit) == 40 and dirty is True
