# Helpers of the rules in workflow/rules/prepare.smk: input functions and parameters read from the config.

# Keys of a data set entry that steer the workflow; all other keys are `seqxent prepare` flags.
WORKFLOW_KEYS = {"activate", "baselines", "lookup_column", "train", "decisions"}


def get_prepare_input(wildcards):
    """Source files of a data set: `fasta` + `labels`, or `table`; or those of its `reference_format`
    (sintax: `fasta`; qiime: `fasta` + `labels`; rdp: `fasta` + `taxonomy`)."""
    entry = config["datasets"][wildcards.dataset]
    return {
        key: entry[key]
        for key in ("fasta", "labels", "table", "taxonomy")
        if key in entry
    }


def get_source_files(wildcards):
    """Source files of a data set as a list (checksummed in metrics.json)."""
    return list(get_prepare_input(wildcards).values())


def get_prepare_args(wildcards):
    """`seqxent prepare` flags of a data set, sources included; `lookup_column` joins `extra_columns`."""
    entry = config["datasets"][wildcards.dataset]
    extra = list(entry["extra_columns"])
    if entry["lookup_column"] and entry["lookup_column"] not in extra:
        extra.append(entry["lookup_column"])
    return to_cli_args({**entry, "extra_columns": extra}, exclude=WORKFLOW_KEYS)


def get_homology_method(wildcards):
    """How a residue data set's homology groups are made: `mmseqs2`, or `kmer` without it (a param, so
    installing mmseqs2 remakes the split); `none` for other tasks."""
    if config["datasets"][wildcards.dataset]["task"] != "residue":
        return "none"
    return "mmseqs2" if is_tool_installed("mmseqs2") else "kmer"
