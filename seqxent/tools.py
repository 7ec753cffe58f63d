"""Optional external tools: the one place that says whether each is installed and how to install it.

seqxent runs without any of them. mmseqs2 makes homology-aware protein splits (without it a k-mer
clustering is used); vsearch, BLAST+ and the RDP classifier are peers compared side by side with the
model. Everything that needs a tool asks :func:`missing_tool` (or :func:`require`) here, so a missing tool
is reported the same way everywhere: the workflow skips the stage with one log line, the report shows the
peer as "not run: <tool> not installed", and ``seqxent baseline`` stops with a one-line error.

Example:
    >>> TOOLS["vsearch"].package, PEER_TOOLS["sintax"]
    ('vsearch', 'vsearch')
    >>> not_run_reason("ncbi-blast+")
    'ncbi-blast+ not installed'
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from seqxent.errors import InputError

#: Environment variable naming the RDP classifier's jar when it is not where Debian or bioconda put it.
RDP_JAR_VARIABLE = "RDP_CLASSIFIER_JAR"
_RDP_JAR_PLACES = ("/usr/share/rdp-classifier/rdp_classifier.jar",  # Debian's rdp-classifier
                   "{prefix}/share/rdp_classifier*/classifier.jar")  # bioconda's rdp_classifier


@dataclass(frozen=True)
class Tool:
    """An optional external tool.

    Attributes:
        package: the name users know it by and the message prints (``mmseqs2``, ``ncbi-blast+``).
        executables: programs that must be on PATH.
        install: how to install it.
        needs_jar: the RDP classifier: a jar file as well (see :func:`rdp_jar`).
    """

    package: str
    executables: tuple[str, ...]
    install: str
    needs_jar: bool = False


TOOLS = {
    "mmseqs2": Tool("mmseqs2", ("mmseqs",), "apt-get install mmseqs2, or conda install -c bioconda mmseqs2"),
    "vsearch": Tool("vsearch", ("vsearch",), "apt-get install vsearch, or conda install -c bioconda vsearch"),
    "ncbi-blast+": Tool("ncbi-blast+", ("blastn", "makeblastdb"),
                        "apt-get install ncbi-blast+, or conda install -c bioconda blast"),
    "rdp-classifier": Tool("rdp-classifier", ("java",),
                           "apt-get install rdp-classifier, or conda install -c bioconda rdp_classifier "
                           f"(or set {RDP_JAR_VARIABLE} to its jar)", needs_jar=True),
}
#: Peer method (``seqxent baseline --method``) → the tool it runs.
PEER_TOOLS = {"sintax": "vsearch", "blastn": "ncbi-blast+", "rdp": "rdp-classifier"}


def rdp_jar() -> Path | None:
    """The RDP classifier's jar: ``$RDP_CLASSIFIER_JAR``, Debian's or the active conda environment's; or None."""
    if os.environ.get(RDP_JAR_VARIABLE):
        path = Path(os.environ[RDP_JAR_VARIABLE])
        return path if path.is_file() else None
    prefix = os.environ.get("CONDA_PREFIX", "/nonexistent")
    for pattern in _RDP_JAR_PLACES:
        found = sorted(glob.glob(pattern.format(prefix=prefix)))
        if found:
            return Path(found[-1])
    return None


def missing_tool(name: str) -> str | None:
    """What of tool ``name`` (a key of :data:`TOOLS`) is missing, e.g. ``"`vsearch` not on PATH"``; None if nothing.

    Raises:
        ValueError: for an unknown tool name.
    """
    if name not in TOOLS:
        raise ValueError(f"Expected argument `name` to be one of {sorted(TOOLS)}, but got {name!r}")
    tool = TOOLS[name]
    absent = [exe for exe in tool.executables if shutil.which(exe) is None]
    if absent:
        return ", ".join(f"`{exe}`" for exe in absent) + " not on PATH"
    if tool.needs_jar and rdp_jar() is None:
        where = os.environ.get(RDP_JAR_VARIABLE) or _RDP_JAR_PLACES[0]
        return f"no RDP classifier jar at {where}"
    return None


def is_installed(name: str) -> bool:
    """Whether tool ``name`` can run here."""
    return missing_tool(name) is None


def not_run_reason(name: str) -> str:
    """The short reason shown in reports and logs: ``"<package> not installed"``."""
    return f"{TOOLS[name].package} not installed"


def skip_message(name: str, what: str) -> str:
    """One log line for a stage skipped (or replaced) because tool ``name`` is missing.

    Example:
        >>> skip_message("vsearch", "the sintax peer is skipped")  # doctest: +ELLIPSIS
        'vsearch not installed (...): the sintax peer is skipped. Install: apt-get install vsearch, or ...'
    """
    return (f"{not_run_reason(name)} ({missing_tool(name) or 'found now'}): {what}. "
            f"Install: {TOOLS[name].install}")


class ToolMissingError(InputError):
    """An optional tool that a command was asked to use is not installed."""


def require(name: str, user: str) -> None:
    """Raise :class:`ToolMissingError` (one line: tool, what is missing, how to install) unless ``name`` is installed.

    Args:
        name: key of :data:`TOOLS`.
        user: what needs it, for the message (e.g. ``"method `rdp`"``).
    """
    missing = missing_tool(name)
    if missing is not None:
        raise ToolMissingError(f"{user} needs {TOOLS[name].package}, which is not installed ({missing}). "
                               f"Install: {TOOLS[name].install}")
