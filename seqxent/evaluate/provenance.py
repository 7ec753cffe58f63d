"""Provenance records: software versions, git state, data checksums, seeds and settings.

:func:`collect_provenance` returns a JSON-ready dict. Two calls with the same inputs in
the same environment and working tree differ only in the ``"created"`` entry (the UTC
time of the call), so reports and metrics files can be compared after dropping it.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import seqxent

# Distribution names as installed (importlib.metadata), reported in this order.
PACKAGES = ("torch", "numpy", "pandas", "biopython", "scikit-learn", "snakemake", "matplotlib", "scipy")

# Value used for the git commit when it cannot be determined (no repository, no commit, no git).
UNKNOWN = "unknown"

_CHUNK_BYTES = 1 << 20
_GIT_TIMEOUT_S = 10


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 digest of a file, read in 1 MiB chunks.

    Args:
        path: The file to hash.

    Returns:
        64 lowercase hex characters.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     empty = Path(tmp) / "empty.txt"
        ...     _ = empty.write_bytes(b"")
        ...     sha256_file(empty)[:16]
        'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Return installed versions of distributions, None for those not installed.

    Args:
        names: Distribution names, e.g. ``"scikit-learn"``.

    Returns:
        Name -> version string or None.
    """
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(args: list[str], cwd: Path | None) -> str | None:
    """Run git and return its stripped stdout, or None on any failure."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(cwd: str | os.PathLike | None = None) -> tuple[str, bool | None]:
    """Return the current commit and whether the working tree has uncommitted changes.

    Never raises: outside a repository, before the first commit or without git the
    commit is ``"unknown"``.

    Args:
        cwd: A directory inside the repository; the current directory when None.

    Returns:
        (commit hash or ``"unknown"``, dirty flag or None when unknown).
    """
    where = Path(cwd) if cwd is not None else None
    commit = _git(["rev-parse", "--verify", "HEAD"], where)
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return (commit or UNKNOWN), (None if status is None else bool(status))


def _jsonable(value: Any) -> Any:
    """Convert paths, tuples, sets and numpy scalars to JSON-ready values, recursively."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(item) for item in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def collect_provenance(
    data_files: Iterable[str | os.PathLike] = (),
    seeds: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Describe how a result was produced.

    Everything except ``"created"`` is deterministic for a fixed environment, working
    tree and input, so two records can be compared after dropping that key.

    Args:
        data_files: Input files to checksum; keys of ``"data_files"`` are the paths as given.
        seeds: Random seeds used, e.g. ``{"split": 1, "train": 1}``.
        config: Settings used (any JSON-like mapping; paths become strings).
        argv: The command line; ``sys.argv`` when None.

    Returns:
        Dict with keys ``seqxent_version``, ``python``, ``platform``, ``packages``,
        ``git_commit``, ``git_dirty``, ``data_files`` (path -> sha256), ``seeds``,
        ``config``, ``argv`` and ``created`` (ISO 8601 UTC time).

    Raises:
        FileNotFoundError: If a data file does not exist.
    """
    commit, dirty = git_state()
    return {
        "seqxent_version": seqxent.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "git_commit": commit,
        "git_dirty": dirty,
        "data_files": {os.fspath(path): sha256_file(path) for path in data_files},
        "seeds": _jsonable(dict(seeds or {})),
        "config": _jsonable(dict(config or {})),
        "argv": [str(arg) for arg in (sys.argv if argv is None else argv)],
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
