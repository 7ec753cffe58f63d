"""data/16s_taxonomy.tsv: what data/make_16s_taxonomy.py makes, one row per 16S record, read by `prepare`."""

import runpy
from pathlib import Path

import pytest

from seqxent.data.io import read_table
from seqxent.prepare.build import PrepareConfig, prepare_dataset

DATA = Path(__file__).resolve().parents[2] / "data"
RANKS = ["domain", "phylum", "class", "order", "family", "genus", "species"]


@pytest.fixture(scope="module")
def script():
    """The script's functions (run_path: data/ is no package, and no bytecode is left next to the data)."""
    return runpy.run_path(str(DATA / "make_16s_taxonomy.py"), run_name="make_16s_taxonomy")


def test_vendored_table_is_what_the_script_makes(script, tmp_path):
    out = tmp_path / "16s_taxonomy.tsv"
    script["write_taxonomy"](DATA / "16s_refseq.tsv", DATA / "16s_lineage.tsv", out)
    assert out.read_bytes() == (DATA / "16s_taxonomy.tsv").read_bytes()


def test_every_refseq_id_once_in_order_with_names_kept():
    refseq = read_table(DATA / "16s_refseq.tsv")
    taxonomy = read_table(DATA / "16s_taxonomy.tsv")
    assert list(taxonomy.columns) == ["id", *RANKS]
    assert taxonomy["id"].tolist() == refseq["id"].tolist()  # read_table rejects duplicate ids
    assert taxonomy[["genus", "species"]].equals(refseq[["genus", "species"]])
    # RDP's stray closing quotes stay as they are (5 genera under 3 such names).
    quoted = taxonomy.loc[taxonomy["family"].str.contains('"') | taxonomy["class"].str.contains('"'), "genus"]
    assert sorted(set(quoted)) == ["Aciditerrimonas", "Marinifilum", "Ohtaekwangia", "Phocaeicola", "Prolixibacter"]


def test_counts_of_the_readme(script):
    counts = script["count_taxa"](read_table(DATA / "16s_taxonomy.tsv"))
    assert counts["records"] == 25_064 and counts["records with a full lineage"] == 18_037
    assert counts["genera without lineage"] == 2_532 and counts["records without lineage"] == 6_905
    assert [counts[f"distinct {rank}"] for rank in RANKS] == [1, 27, 49, 106, 295, 4_184, 19_342]


def test_prepare_reads_it_as_a_table_reference():
    cfg = PrepareConfig("16s_taxonomy", "sequence", "dna", "genus", fasta=DATA / "16s_refseq.fasta.gz",
                        labels=DATA / "16s_taxonomy.tsv", reference_format="table", ranks=RANKS, max_records=2000)
    table, summary = prepare_dataset(cfg)
    assert set(RANKS) <= set(table.columns) and summary["ranks"] == RANKS
    assert len(table) == 25_064
    used = table[table["split"] != "excluded"]
    assert len(used) == 2000 and (used["label"] == used["genus"]).all()
    assert (used["domain"] == "Bacteria").sum() > 1000  # most sampled records carry a lineage
