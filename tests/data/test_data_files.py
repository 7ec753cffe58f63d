"""The bundled data files are byte for byte the vendored ones: sha256 equals the block in data/README.md.

The checksums are parsed from the README, so the test fails when either a data file or the README changes.
The small files in ``data/examples/`` are checked byte for byte by the golden-file tests instead.
"""

import hashlib
import re
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"
LINE = re.compile(r"^([0-9a-f]{64})  (\S+)$")


def _readme_checksums() -> dict[str, str]:
    """File name -> sha256 from the fenced block under the '## Checksums (sha256)' heading."""
    text = (DATA / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Checksums \(sha256\)\n```\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "data/README.md has no '## Checksums (sha256)' block"
    checksums = {}
    for line in match.group(1).splitlines():
        parsed = LINE.match(line)
        assert parsed, f"unexpected line in the checksum block of data/README.md: {line!r}"
        checksums[parsed.group(2)] = parsed.group(1)
    return checksums


CHECKSUMS = _readme_checksums()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_checksum_block_lists_the_data_files():
    # README.md and the script that makes 16s_taxonomy.tsv (checked by tests/prepare/test_16s_taxonomy.py)
    on_disk = sorted(p.name for p in DATA.iterdir()
                     if p.is_file() and p.name not in ("README.md", "make_16s_taxonomy.py"))
    assert sorted(CHECKSUMS) == on_disk
    assert sorted(CHECKSUMS) == ["16s_lineage.tsv", "16s_refseq.fasta.gz", "16s_refseq.tsv", "16s_taxonomy.tsv",
                                 "coi_bold.fasta.gz", "coi_bold.tsv", "rdp_taxonomy.txt",
                                 "rdp_trainset_sample.fasta.gz", "ss_pdb.tsv.gz"]


@pytest.mark.parametrize("name", sorted(CHECKSUMS))
def test_sha256_matches_readme(name):
    assert _sha256(DATA / name) == CHECKSUMS[name]
