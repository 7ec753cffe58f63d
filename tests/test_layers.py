"""The package's architecture as a test: the import layers contract and the size of its modules.

The layers contract (``[tool.importlinter]`` in pyproject.toml, checked by ``lint-imports``) says which
subpackage may import which: stages over the library layers (tasks, model, metrics, data), never the reverse.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "seqxent"
# STYLE.md section 3 asks for modules of at most ~400 lines; past this a module holds more than one concern.
MAX_MODULE_LINES = 450


def test_import_layers_contract_is_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    # --no-cache: a stale cache under .import_linter_cache could hide a new import.
    proc = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"lint-imports failed:\n{proc.stdout}\n{proc.stderr}"


def test_no_module_is_too_long():
    lengths = {path.relative_to(REPO).as_posix(): len(path.read_text().splitlines())
               for path in sorted(PACKAGE.rglob("*.py"))}
    too_long = {path: n for path, n in lengths.items() if n > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
