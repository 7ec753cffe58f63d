# Helpers of the rules in workflow/rules/baseline.smk: input functions and parameters read from the config.

# Baselines implemented in seqxent itself: they need nothing but the package. label_lookup (the
# training-set mapping of a data set's `lookup_column` to the label) is added per data set. qiime_nb,
# QIIME 2's naive Bayes classifier (q2-feature-classifier's scikit-learn pipeline), is a peer without a tool.
BUILTIN_BASELINES = ["majority", "kmer_logreg", "kmer_knn", "qiime_nb", "label_lookup"]
# Peer tools run as baselines (method -> the optional tool it runs); seqxent.tools says whether each is
# installed and how to install it.
PEER_TOOLS = tools.PEER_TOOLS


def get_tool_status(wildcards):
    """`installed` or `missing` for a peer method's tool: a param, so installing a tool reruns its peer."""
    tool = PEER_TOOLS.get(wildcards.method)
    return (
        "builtin"
        if tool is None
        else ("installed" if is_tool_installed(tool) else "missing")
    )


def get_baselines(wildcards):
    """Baseline methods of a data set (not residue tasks: `seqxent baseline` labels whole sequences).

    Its built-ins, label_lookup when it sets `lookup_column`, and the activated peer tools for DNA
    sequence and lineage tasks (multilabel tasks run the built-ins on label sets; the peers' taxonomy formats
    cannot hold them). A peer whose tool is missing still has a result: 'not run: <tool> not installed'.
    """
    entry = config["datasets"][wildcards.dataset]
    if entry["task"] == "residue":
        return []
    methods = entry["baselines"]
    methods = list(config["baselines"]["methods"] if methods is None else methods)
    if entry["lookup_column"]:
        methods.append("label_lookup")
    if entry["alphabet"] == "dna" and get_task(entry["task"]).baselines == "labels":
        methods += [name for name in PEER_TOOLS if is_activated(f"tools/{name}")]
    return methods


def get_baseline_files(wildcards):
    """Result files of a data set's baselines."""
    return expand(
        "results/{dataset}/baselines/{method}.json",
        dataset=wildcards.dataset,
        method=get_baselines(wildcards),
    )


def get_baseline_args(wildcards):
    """`seqxent baseline` flags: the k-mer length, and the key column of label_lookup."""
    settings = {"k": config["baselines"]["k"]}
    if wildcards.method == "label_lookup":
        settings["key_column"] = config["datasets"][wildcards.dataset]["lookup_column"]
    return to_cli_args(settings)
