"""Tests of seqxent.data.taxonomy and seqxent.data.reference_formats: lineages, their common ancestor, and the
SINTAX, QIIME 2, RDP and rank-table readers on tiny hand-written files and on the real RDP fixture."""

import collections
from pathlib import Path

import pandas as pd
import pytest

from seqxent.data.alphabet import Alphabet
from seqxent.data.reference_formats import (
    RdpTaxonomy,
    lineages_from_table,
    parse_qiime_taxon,
    parse_sintax,
    read_qiime,
    read_rdp,
    read_sintax,
    records_to_table,
    resolve_table_lineages,
)
from seqxent.data.taxonomy import RANKS, Lineage, TaxonRecord, present_ranks, resolve_conflicts
from seqxent.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data"
RDP_FASTA, RDP_TAXONOMY = DATA / "rdp_trainset_sample.fasta.gz", DATA / "rdp_taxonomy.txt"
FG = ("family", "genus")


def _lin(**names):
    """A lineage over RANKS, e.g. _lin(domain="Bacteria", genus="Bacillus")."""
    return Lineage(RANKS, tuple(names.get(rank) for rank in RANKS))


def _names(records):
    return {rec.id: {rank: name for rank, name in zip(rec.lineage.ranks, rec.lineage.names, strict=True) if name}
            for rec in records}


def _write(path, text):
    path.write_text(text)
    return path


# --- Lineage ---------------------------------------------------------------------------------------------------


def test_lineage_from_pairs_get_select_str():
    lin = Lineage.from_pairs([("genus", "Bacillus"), ("domain", "Bacteria"), ("class", "")])
    assert lin.ranks == RANKS
    assert lin.names == ("Bacteria", None, None, None, None, None, "Bacillus", None, None)
    assert lin.get("genus") == "Bacillus" and lin.get("class") is None
    assert lin.select(["genus", "domain"]) == Lineage(("genus", "domain"), ("Bacillus", "Bacteria"))
    assert str(lin) == "domain:Bacteria; genus:Bacillus"
    assert str(Lineage(FG, (None, None))) == "(no rank)"


@pytest.mark.parametrize(("pairs", "message"), [
    ([("tribe", "Osmiini")], "unknown rank 'tribe'"),
    ([("genus", "Osmia"), ("genus", "Bombus")], "rank 'genus' given twice"),
])
def test_lineage_from_pairs_errors(pairs, message):
    with pytest.raises(ValueError, match=message):
        Lineage.from_pairs(pairs)


def test_lineage_checks_its_shape():
    with pytest.raises(ValueError, match="one name per rank"):
        Lineage(FG, ("Apidae",))
    with pytest.raises(ValueError, match="distinct ranks"):
        Lineage(("genus", "genus"), ("a", "b"))
    with pytest.raises(ValueError, match="`rank` to be one of"):
        Lineage(FG, ("Apidae", "Osmia")).get("species")


@pytest.mark.parametrize(("a", "b", "expected"), [
    (("F", "C", "G1"), ("F", "C", "G2"), ("F", "C", None)),
    (("F", "C1", "G"), ("F", "C2", "G"), ("F", None, None)),  # ranks below the first disagreement go too
    (("F", None, "G"), ("F", "C", "G"), ("F", None, None)),  # missing vs named is a disagreement
    (("F1", "C", "G"), ("F2", "C", "G"), (None, None, None)),
    (("F", "C", "G"), ("F", "C", "G"), ("F", "C", "G")),
])
def test_common_ancestor(a, b, expected):
    ranks = ("phylum", "class", "genus")
    assert Lineage(ranks, a).common_ancestor(Lineage(ranks, b)) == Lineage(ranks, expected)
    assert Lineage(ranks, b).common_ancestor(Lineage(ranks, a)) == Lineage(ranks, expected)


def test_common_ancestor_needs_the_same_ranks():
    with pytest.raises(ValueError, match="same ranks"):
        Lineage(FG, ("a", "b")).common_ancestor(Lineage(("order", "genus"), ("a", "b")))


def test_present_ranks_in_rank_order():
    lineages = [_lin(genus="Osmia"), _lin(species="Osmia rufa", domain="Eukaryota"), _lin()]
    assert present_ranks(lineages) == ["domain", "genus", "species"]


# --- conflicts ---------------------------------------------------------------------------------------------------


def test_resolve_conflicts_gives_the_common_ancestor_and_reports():
    records = [
        TaxonRecord("a", "ACGT", Lineage(FG, ("Bacillaceae", "Bacillus"))),
        TaxonRecord("b", "TTTT", Lineage(FG, ("Vibrionaceae", "Vibrio"))),
        TaxonRecord("c", "ac-gt", Lineage(FG, ("Bacillaceae", "Geobacillus"))),  # same as a once cleaned
        TaxonRecord("d", "TTTT", Lineage(FG, ("Vibrionaceae", "Vibrio"))),  # identical and agreeing: no conflict
        TaxonRecord("e", "ACGT", Lineage(FG, ("Bacillaceae", "Bacillus"))),
        TaxonRecord("f", "GGGG", Lineage(FG, ("Apidae", "Osmia"))),
        TaxonRecord("g", "GGGG", Lineage(FG, ("Megachilidae", "Osmia"))),
        TaxonRecord("h", "", Lineage(FG, ("Apidae", "Bombus"))),  # empty sequences are not "identical"
        TaxonRecord("i", "", Lineage(FG, ("Apidae", "Apis"))),
    ]
    resolved, report = resolve_conflicts(records, key=Alphabet.from_name("dna").clean)
    assert [rec.id for rec in resolved] == list("abcdefghi")
    assert [rec.lineage.names for rec in resolved] == [
        ("Bacillaceae", None), ("Vibrionaceae", "Vibrio"), ("Bacillaceae", None), ("Vibrionaceae", "Vibrio"),
        ("Bacillaceae", None), (None, None), (None, None), ("Apidae", "Bombus"), ("Apidae", "Apis")]
    assert report.as_dict() == {"n_sequences": 2, "n_records": 5, "examples": [
        {"ids": ["a", "c", "e"], "lineages": ["family:Bacillaceae; genus:Bacillus",
                                              "family:Bacillaceae; genus:Geobacillus"],
         "common_ancestor": "family:Bacillaceae"},
        {"ids": ["f", "g"], "lineages": ["family:Apidae; genus:Osmia", "family:Megachilidae; genus:Osmia"],
         "common_ancestor": "(no rank)"}]}


def test_resolve_conflicts_keeps_at_most_five_examples():
    records = [TaxonRecord(f"r{i}{j}", "ACGT" + "A" * i, Lineage(FG, ("F", f"G{j}"))) for i in range(7)
               for j in range(2)]
    _, report = resolve_conflicts(records)
    assert (report.n_sequences, report.n_records, len(report.examples)) == (7, 14, 5)


# --- SINTAX ------------------------------------------------------------------------------------------------------

SINTAX = (">NG_041941.1;tax=d:Bacteria,p:Proteobacteria,c:Deltaproteobacteria,o:Desulfurellales,"
          "f:Desulfurellaceae,g:Hippea;\nACGT\nAC\n"
          ">X1;size=3;tax=d:Bacteria,p:\"Armatimonadetes\",g:Armatimonas/Armatimonadetes_gp1;\nGGGG\n"
          ">X2 some words;tax=g:WS3_genera_incertae_sedis,d:Bacteria,s:Candidatus Korarchaeum cryptofilum\nTT\n"
          ">X3;tax=k:Fungi,p:,t:strain_7;\nCC\n")


def test_read_sintax(tmp_path):
    records = read_sintax(_write(tmp_path / "ref.fasta", SINTAX))
    assert [(rec.id, rec.sequence) for rec in records] == [("NG_041941.1", "ACGTAC"), ("X1", "GGGG"),
                                                           ("X2", "TT"), ("X3", "CC")]
    assert _names(records) == {
        "NG_041941.1": {"domain": "Bacteria", "phylum": "Proteobacteria", "class": "Deltaproteobacteria",
                        "order": "Desulfurellales", "family": "Desulfurellaceae", "genus": "Hippea"},
        "X1": {"domain": "Bacteria", "phylum": '"Armatimonadetes"', "genus": "Armatimonas/Armatimonadetes_gp1"},
        "X2": {"domain": "Bacteria", "genus": "WS3_genera_incertae_sedis",
               "species": "Candidatus Korarchaeum cryptofilum"},
        "X3": {"kingdom": "Fungi", "strain": "strain_7"},
    }


@pytest.mark.parametrize(("text", "message"), [
    (">a;tax=d:Bacteria,x:Foo;\nAC\n",
     r"ref.fasta: record 'a': unknown rank letter 'x' in 'x:Foo' \(expected one of d, k, p, c, o, f, g, s, t\)"),
    (">a;tax=d:Bacteria,G:Foo;\nAC\n", "record 'a': unknown rank letter 'G'"),
    (">a\nAC\n", r"ref.fasta: record 'a': expected one ';tax=' field in the header, got 0: 'a'"),
    (">a;size=2\nAC\n", "record 'a': expected one ';tax=' field in the header, got 0"),
    (">a;tax=d:Bacteria;tax=d:Archaea\nAC\n", "record 'a': expected one ';tax=' field in the header, got 2"),
    (">a;tax=;\nAC\n", r"record 'a': no taxon in the lineage '' \(a record without a lineage\)"),
    (">a;tax=g:;\nAC\n", r"record 'a': no taxon in the lineage 'g:' \(a record without a lineage\)"),
    (">a;tax=d:Bacteria,Bacillus;\nAC\n", "record 'a': taxon 'Bacillus' is not rank:name"),
    (">a;tax=g:Bacillus,g:Vibrio;\nAC\n", "record 'a': rank 'genus' given twice"),
    (">a;tax=g:X;\nAC\n>b;tax=g:Y;\nAC\n>a;tax=g:Z;\nAC\n", "ref.fasta: record 'a': duplicate id"),
    (">;tax=g:X;\nAC\n", "ref.fasta: record 1: no id before ';' in the header ';tax=g:X;'"),
])
def test_read_sintax_errors(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_sintax(_write(tmp_path / "ref.fasta", text))


def test_parse_sintax_of_a_vsearch_header():
    assert parse_sintax("r0;tax=s:Osmia_rufa") == _lin(species="Osmia_rufa")


# --- QIIME 2 -----------------------------------------------------------------------------------------------------

QIIME_FASTA = ">r1\nACGT\n>r2\nGGGG\n>r3\nTTTT\n>r4\nCCCC\n>r5\nAAAA\n"
QIIME_TAXA = ("r1\td__Bacteria; p__Proteobacteria; c__Alphaproteobacteria; o__; f__; g__\n"
              "r2\tk__Bacteria; p__Firmicutes; c__Bacilli; o__Bacillales; f__Bacillaceae; g__Bacillus; "
              "s__subtilis\n"
              "r3\tUnassigned\n"
              "r4\tD_0__Bacteria;D_1__Cyanobacteria;D_2__Oxyphotobacteria;D_5__Gp-VIII;\n"
              "r5\td__Bacteria; p__\"Armatimonadetes\"; g__[Eubacterium] coprostanoligenes group\n"
              "r9\td__Archaea\n")  # a row without a sequence: ignored, as QIIME does
QIIME_EXPECTED = {
    "r1": {"domain": "Bacteria", "phylum": "Proteobacteria", "class": "Alphaproteobacteria"},
    "r2": {"kingdom": "Bacteria", "phylum": "Firmicutes", "class": "Bacilli", "order": "Bacillales",
           "family": "Bacillaceae", "genus": "Bacillus", "species": "subtilis"},
    "r3": {},
    "r4": {"domain": "Bacteria", "phylum": "Cyanobacteria", "class": "Oxyphotobacteria", "genus": "Gp-VIII"},
    "r5": {"domain": "Bacteria", "phylum": '"Armatimonadetes"', "genus": "[Eubacterium] coprostanoligenes group"},
}


@pytest.mark.parametrize("header", ["", "Feature ID\tTaxon\n", "Feature ID\tTaxon\tConfidence\n"])
def test_read_qiime(tmp_path, header):
    taxa = QIIME_TAXA if "Confidence" not in header else QIIME_TAXA.replace("\n", "\t0.9\n")
    records = read_qiime(_write(tmp_path / "seqs.fasta", QIIME_FASTA), _write(tmp_path / "taxonomy.tsv",
                                                                               header + taxa))
    assert [(rec.id, rec.sequence) for rec in records] == [("r1", "ACGT"), ("r2", "GGGG"), ("r3", "TTTT"),
                                                           ("r4", "CCCC"), ("r5", "AAAA")]
    assert _names(records) == QIIME_EXPECTED


@pytest.mark.parametrize(("fasta", "taxa", "message"), [
    (">r1\nAC\n>r2\nAC\n", "r1\td__Bacteria\n",
     r"seqs.fasta: record 'r2': no row in the taxonomy .*taxonomy.tsv \(a record without a lineage\)"),
    (">r1\nAC\n", "r1\td__Bacteria\nr1\td__Archaea\n", r"taxonomy.tsv: line 2: record 'r1': duplicate id"),
    (">r1\nAC\n>r1\nAC\n", "r1\td__Bacteria\n", "seqs.fasta: record 'r1': duplicate id"),
    (">r1\nAC\n", "r1\td__Bacteria; x__Foo\n",
     r"taxonomy.tsv: line 1: record 'r1': level 'x__Foo' has no known rank prefix \(expected one of d__, k__"),
    (">r1\nAC\n", "r1\tBacteria; Firmicutes\n", "line 1: record 'r1': level 'Bacteria' has no known rank prefix"),
    (">r1\nAC\n", "r1\td__Bacteria; g__A; g__B\n", "line 1: record 'r1': rank 'genus' given twice"),
    (">r1\nAC\n", "r1\td__; p__\n", r"line 1: record 'r1': no taxon in the lineage 'd__; p__'"),
    (">r1\nAC\n", "r1\n", r"taxonomy.tsv: line 1 \(record 'r1'\): expected 'id<TAB>taxon'"),
])
def test_read_qiime_errors(tmp_path, fasta, taxa, message):
    with pytest.raises(InputError, match=message):
        read_qiime(_write(tmp_path / "seqs.fasta", fasta), _write(tmp_path / "taxonomy.tsv", taxa))


def test_parse_qiime_taxon_unassigned_has_no_rank():
    assert parse_qiime_taxon("Unassigned") == _lin()


# --- RDP ---------------------------------------------------------------------------------------------------------

RDP_TAXA = """0*Root*-1*0*rootrank
1*Bacteria*0*1*domain
2*"Actinobacteria"*1*2*phylum
3*Actinobacteria*2*3*class
4*Actinobacteridae*3*4*subclass
5*Actinomycetales*4*5*order
6*Micrococcineae*5*6*suborder
7*Microbacteriaceae*6*7*family
8*Microbacterium*7*8*genus
9*"Chloroflexi"*1*2*phylum
10*"Chloroflexi"*9*3*class
11*Chloroflexus/Chloroflexi_gp1*10*4*genus
12*WS3*1*2*phylum
13*WS3_genera_incertae_sedis*12*3*genus
"""
RDP_SEQS = (">A1|S1\tRoot;Bacteria;\"Actinobacteria\";Actinobacteria;Actinobacteridae;Actinomycetales;"
            "Micrococcineae;Microbacteriaceae;Microbacterium\nACGT\n"
            ">A2|S2\tRoot;Bacteria;\"Chloroflexi\";\"Chloroflexi\";Chloroflexus/Chloroflexi_gp1\nGG\n"
            ">A3|S3 Root;Bacteria;WS3;WS3_genera_incertae_sedis;\nTT\n")


def test_read_rdp(tmp_path):
    records = read_rdp(_write(tmp_path / "train.fasta", RDP_SEQS), _write(tmp_path / "taxid.txt", RDP_TAXA))
    assert [(rec.id, rec.sequence) for rec in records] == [("A1|S1", "ACGT"), ("A2|S2", "GG"), ("A3|S3", "TT")]
    assert _names(records) == {
        "A1|S1": {"domain": "Bacteria", "phylum": '"Actinobacteria"', "class": "Actinobacteria",
                  "order": "Actinomycetales", "family": "Microbacteriaceae", "genus": "Microbacterium"},
        "A2|S2": {"domain": "Bacteria", "phylum": '"Chloroflexi"', "class": '"Chloroflexi"',
                  "genus": "Chloroflexus/Chloroflexi_gp1"},
        "A3|S3": {"domain": "Bacteria", "phylum": "WS3", "genus": "WS3_genera_incertae_sedis"},
    }


@pytest.mark.parametrize(("header", "message"), [
    ("A1\tRoot;Bacteria;WS3;Microbacterium",
     r"train.fasta: record 'A1': taxon 'Microbacterium' \(under 'WS3'\) is not in the RDP taxonomy .*taxid.txt"),
    ("A1\tRoot;Bacteria;Actinobacteria", "record 'A1': taxon 'Actinobacteria' \\(under 'Bacteria'\\) is not in"),
    ("A1\tBacteria;WS3", "record 'A1': the lineage starts with 'Bacteria', not the root 'Root' of the RDP taxonomy"),
    ("A1", "record 'A1': the lineage starts with '', not the root 'Root'"),
    ("A1\tRoot", r"record 'A1': no taxon in the lineage 'Root' \(a record without a lineage\)"),
])
def test_read_rdp_errors(tmp_path, header, message):
    with pytest.raises(InputError, match=message):
        read_rdp(_write(tmp_path / "train.fasta", f">{header}\nACGT\n"), _write(tmp_path / "taxid.txt", RDP_TAXA))


def test_read_rdp_duplicate_id(tmp_path):
    fasta = _write(tmp_path / "train.fasta", ">A1\tRoot;Bacteria;WS3\nAC\n>A1\tRoot;Bacteria\nAC\n")
    with pytest.raises(InputError, match="train.fasta: record 'A1': duplicate id"):
        read_rdp(fasta, _write(tmp_path / "taxid.txt", RDP_TAXA))


@pytest.mark.parametrize(("taxa", "message"), [
    ("0*Root*-1*0*rootrank\n1*Bacteria*0*1\n", r"taxid.txt: line 2: expected 5 fields taxid\*name"),
    ("0*Root*-1*0*rootrank\nx*Bacteria*0*1*domain\n", "taxid.txt: line 2: taxid, parent taxid and depth must be "
                                                        "integers"),
    ("0*Root*-1*0*rootrank\n1*Bacteria*0*1*domain\n1*Archaea*0*1*domain\n",
     "taxid.txt: line 3: taxon 'Archaea': duplicate taxid 1"),
    ("0*Root*-1*0*rootrank\n1*Bacteria*0*1*domain\n2*Bacteria*0*1*domain\n",
     "taxid.txt: line 3: taxon 'Bacteria': a second child of taxid 0 with this name"),
    ("0*Root*-1*0*rootrank\n1*Bacteria*7*1*domain\n", "taxid.txt: taxon 1 \\('Bacteria'\\): parent taxid 7 is not"),
    ("0*Root*-1*0*rootrank\n1*Other*-1*0*rootrank\n", r"taxid.txt: expected one root node \(parent taxid -1\), got 2"),
])
def test_rdp_taxonomy_errors(tmp_path, taxa, message):
    with pytest.raises(InputError, match=message):
        RdpTaxonomy(_write(tmp_path / "taxid.txt", taxa))


def test_real_rdp_fixture():
    records = read_rdp(RDP_FASTA, RDP_TAXONOMY)
    assert len(records) == 1097 and len({rec.id for rec in records}) == 1097
    assert len(RdpTaxonomy(RDP_TAXONOMY).nodes) == 2583
    assert present_ranks(rec.lineage for rec in records) == ["domain", "phylum", "class", "order", "family", "genus"]
    assert collections.Counter(rec.lineage.get("domain") for rec in records) == {"Bacteria": 1067, "Archaea": 30}
    assert len({rec.lineage.get("genus") for rec in records}) == 523
    shapes = collections.Counter(tuple(rank for rank in ("class", "order", "family") if rec.lineage.get(rank))
                                 for rec in records)  # every record has domain, phylum and genus
    assert shapes == {("class", "order", "family"): 962, (): 67, ("class",): 54, ("class", "family"): 13,
                      ("class", "order"): 1}
    names = _names(records)
    # Checked by hand against the header and rdp_taxonomy.txt (subclass Actinobacteridae and suborder
    # Micrococcineae dropped; Chloroplast is class 2713 and its child family 2714; Family VIII hangs from the
    # class Cyanobacteria, without an order).
    assert names["AB004724|S000381737"] == {
        "domain": "Bacteria", "phylum": '"Actinobacteria"', "class": "Actinobacteria", "order": "Actinomycetales",
        "family": "Microbacteriaceae", "genus": "Microbacterium"}
    assert names["AM711639|S001020377"] == {
        "domain": "Bacteria", "phylum": "Cyanobacteria/Chloroplast", "class": "Chloroplast", "family": "Chloroplast",
        "genus": "Streptophyta"}
    assert names["X78681|S000004780"] == {"domain": "Bacteria", "phylum": "Cyanobacteria/Chloroplast",
                                          "class": "Cyanobacteria", "family": "Family VIII", "genus": "GpVIII"}
    assert names["DQ465910|S000703701"] == {"domain": "Archaea", "phylum": '"Korarchaeota"',
                                            "genus": '"Candidatus Korarchaeum"'}
    assert names["AY576771|S000594467"] == {"domain": "Bacteria", "phylum": '"Proteobacteria"',
                                            "class": "Gammaproteobacteria",
                                            "order": "Gammaproteobacteria_incertae_sedis", "genus": "Eionea"}
    assert names["EU861894|S001148199"]["genus"] == "Armatimonas/Armatimonadetes_gp1"
    resolved, report = resolve_conflicts(records, key=Alphabet.from_name("dna").clean)
    assert report.n_sequences == 0 and resolved == records  # 3 pairs of identical sequences, each one lineage


# --- tables ------------------------------------------------------------------------------------------------------


def test_table_lineages_roundtrip_and_resolve():
    table = pd.DataFrame({"id": ["a", "b", "c"], "sequence": ["ACGT", "acgt", "GG"],
                          "family": ["Apidae", "Apidae ", ""], "genus": ["Osmia", "Bombus", "Xylocopa"]})
    lineages = lineages_from_table(table, FG)
    assert [lin.names for lin in lineages] == [("Apidae", "Osmia"), ("Apidae", "Bombus"), (None, "Xylocopa")]
    report = resolve_table_lineages(table, FG, Alphabet.from_name("dna").clean)
    assert table["family"].tolist() == ["Apidae", "Apidae", ""] and table["genus"].tolist() == ["", "", "Xylocopa"]
    assert (report.n_sequences, report.n_records) == (1, 2)
    records = [TaxonRecord("a", "AC", Lineage.from_pairs([("genus", "Osmia")]))]
    assert records_to_table(records, ["family", "genus"], "pid", "seq").to_dict("list") == {
        "pid": ["a"], "seq": ["AC"], "family": [""], "genus": ["Osmia"]}
