"""Task kinds: what differs between sequence, residue and multi-label tasks lives in one module each.

Example:
    >>> sorted(TASKS), get_task("residue").per_residue
    (['lineage', 'multilabel', 'residue', 'sequence'], True)
"""

from seqxent.errors import InputError
from seqxent.tasks.base import SplitPredictions, Task
from seqxent.tasks.lineage import LineageTask
from seqxent.tasks.multilabel import MultilabelTask
from seqxent.tasks.residue import ResidueTask
from seqxent.tasks.sequence import SequenceTask

#: The registry: task name (the ``task`` of a config entry, a prepared table, a checkpoint) → its :class:`Task`.
TASKS: dict[str, Task] = {task.name: task for task in (SequenceTask(), ResidueTask(), MultilabelTask(), LineageTask())}


def get_task(name: str) -> Task:
    """The :class:`Task` called ``name``.

    Raises:
        InputError: for an unknown task name.
    """
    if name not in TASKS:
        raise InputError(f"Expected argument `task` to be one of {list(TASKS)}, but got {name!r}")
    return TASKS[name]


__all__ = ["TASKS", "SplitPredictions", "Task", "get_task"]
