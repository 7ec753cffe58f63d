"""Glue: label each record with the set of values that its group shows across all records of the group.

Used for the multi-label data set `coi_bin_countries`: for every BOLD record, the countries in which any
record of the same BIN (a haplotype cluster, about a species) was collected, joined by ';' in sorted order.
The answer to "where does this haplotype cluster occur?", as far as BOLD's sampling shows: absence from a
country means "not sampled there", not "absent there".

All input columns are kept and one column is added. Records without a group, or whose whole group has no
value, get an empty label (`seqxent prepare` then excludes them with a reason). The data/ files are read,
never modified; the output goes to results/derived/.
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake is injected by the script directive)

import pandas as pd  # noqa: E402

from seqxent.data.io import atomic_write  # noqa: E402

group_column = snakemake.params.group_column  # noqa: F821
value_column = snakemake.params.value_column  # noqa: F821
output_column = snakemake.params.output_column  # noqa: F821

table = pd.read_csv(snakemake.input.table, sep="\t", dtype=str, keep_default_na=False)  # noqa: F821
for column in (group_column, value_column):
    if column not in table.columns:
        sys.exit(f"{snakemake.input.table}: no column {column!r} (columns: {list(table.columns)})")  # noqa: F821
if output_column in table.columns:
    sys.exit(f"{snakemake.input.table}: column {output_column!r} exists already")  # noqa: F821

known = table[(table[group_column] != "") & (table[value_column] != "")]
values_of_group = known.groupby(group_column)[value_column].agg(lambda values: ";".join(sorted(set(values))))
table[output_column] = table[group_column].map(values_of_group).fillna("")
table.loc[table[group_column] == "", output_column] = ""

output = snakemake.output.table  # noqa: F821
with atomic_write(output) as stream:  # a reader never sees a half-written file
    table.to_csv(stream, sep="\t", index=False, lineterminator="\n")
n_labelled = int((table[output_column] != "").sum())
print(f"wrote {output}: {len(table)} records, {n_labelled} with a {output_column!r} label, "
      f"{values_of_group.size} groups", file=sys.stderr)
