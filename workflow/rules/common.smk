import functools
import json
import shlex
import sys

from snakemake.utils import validate

from seqxent import tools

validate(config, schema="../schemas/config.schema.yaml")


# Baselines implemented in seqxent itself: they need nothing but the package. label_lookup (the
# training-set mapping of a data set's `lookup_column` to the label) is added per data set.
BUILTIN_BASELINES = ["majority", "kmer_logreg", "kmer_knn", "label_lookup"]
# Peer tools run as baselines (method -> the optional tool it runs); seqxent.tools says whether each is
# installed and how to install it.
PEER_TOOLS = tools.PEER_TOOLS
# Keys of a data set entry that steer the workflow; all other keys are `seqxent prepare` flags.
WORKFLOW_KEYS = {"activate", "baselines", "lookup_column", "train", "decisions"}


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    method="|".join([*BUILTIN_BASELINES, *PEER_TOOLS]),
    format="tsv|ss2|horiz|json",


def get_datasets():
    """Names of the data sets with `activate: true`, in config order."""
    return [name for name, entry in config["datasets"].items() if entry["activate"]]


def is_activated(xpath):
    """Whether the config entry at `xpath` (e.g. "tools/sintax") has `activate: true`."""
    return bool(lookup(dpath=xpath, within=config, default={}).get("activate", False))


def to_cli_args(settings, exclude=()):
    """Turn config keys into CLI flags: `min_per_class: 5` -> `--min-per-class 5`.

    Lists give repeated values (`--fractions 0.8 0.1 0.1`) and `true` a bare flag; `false`, null and
    empty lists are left out, so the CLI's own default applies. Values are shell-quoted.
    """
    args = []
    for key, value in settings.items():
        if key in exclude or value is None or value is False or value == []:
            continue
        args.append(f"--{key.replace('_', '-')}")
        if value is not True:
            values = value if isinstance(value, list) else [value]
            args.extend(shlex.quote(str(item)) for item in values)
    return " ".join(args)


def get_prepare_input(wildcards):
    """Source files of a data set: `fasta` + `labels`, or `table`."""
    entry = config["datasets"][wildcards.dataset]
    return {key: entry[key] for key in ("fasta", "labels", "table") if key in entry}


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


def get_train_settings(wildcards):
    """Global `train:` settings with the data set's own `train:` overrides merged on top."""
    return {**config["train"], **config["datasets"][wildcards.dataset]["train"]}


def get_train_args(wildcards):
    """`seqxent train` flags of a data set; `threads` comes from the rule instead."""
    return to_cli_args(get_train_settings(wildcards), exclude={"threads"})


def get_train_teacher(wildcards):
    """Teacher checkpoint of a data set's training (`train: teacher`, for distillation), or none."""
    return get_train_settings(wildcards).get("teacher") or []


def get_train_threads(wildcards):
    """Threads of a data set's training job."""
    return get_train_settings(wildcards)["threads"]


def is_conda_deployment():
    """Whether jobs run in conda environments (`--sdm conda`): envs/tools.yaml then brings every tool."""
    methods = getattr(
        getattr(workflow, "deployment_settings", None), "deployment_method", ()
    )
    return "conda" in {str(method) for method in methods}


@functools.cache
def is_tool_installed(tool):
    """Whether the optional tool (a key of seqxent.tools.TOOLS) can run; logs one line once if not.

    Jobs check again where they run (`seqxent baseline --missing-tool skip`), so a cluster node without
    the tool writes a 'not run' result instead of failing.
    """
    if is_conda_deployment() or tools.is_installed(tool):
        return True
    users = {
        "mmseqs2": "homology splits use k-mer clustering and skip the leakage check"
    }
    what = users.get(
        tool,
        f"the {'/'.join(m for m, t in PEER_TOOLS.items() if t == tool)} peer is not run",
    )
    print(f"seqxent: {tools.skip_message(tool, what)}", file=sys.stderr)
    return False


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
    sequence tasks (multilabel tasks run the built-ins on label sets; the peers' taxonomy formats cannot
    hold them). A peer whose tool is missing still has a result: 'not run: <tool> not installed'.
    """
    entry = config["datasets"][wildcards.dataset]
    if entry["task"] == "residue":
        return []
    methods = entry["baselines"]
    methods = list(config["baselines"]["methods"] if methods is None else methods)
    if entry["lookup_column"]:
        methods.append("label_lookup")
    if entry["alphabet"] == "dna" and entry["task"] == "sequence":
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


def get_evaluate_args(wildcards, input):
    """`seqxent evaluate` flags: bootstrap and binning settings, seed, baselines, source files, ood.json.

    A data set's `decisions` costs are passed on as one JSON object.
    """
    decisions = config["datasets"][wildcards.dataset]["decisions"]
    settings = {
        **config["evaluate"],
        "seed": config["datasets"][wildcards.dataset]["seed"],
        "baselines": list(input.baselines),
        "data_files": list(input.sources),
        "ood": list(input.ood),
        "decisions": json.dumps(decisions, sort_keys=True) if decisions else None,
    }
    return to_cli_args(settings)


def get_calibrate_args(wildcards):
    """`seqxent calibrate` flags: the prior on the temperature (config `calibrate`), novelty score and target
    recall of the abstain threshold, and the k of the k-mer reference (config `ood`). kmer_distance needs DNA: other data sets fall back to energy.
    """
    ood = config["ood"]
    dna = config["datasets"][wildcards.dataset]["alphabet"] == "dna"
    score = ood["score"] if dna or ood["score"] != "kmer_distance" else "energy"
    return to_cli_args(
        {
            "temperature_prior_sd": config["calibrate"]["temperature_prior_sd"],
            "ood_score": score,
            "ood_recall": ood["recall"],
            "reference_k": ood["reference_k"],
        }
    )


def is_ood_activated(dataset):
    """Whether a data set holds classes out of training (`novel_classes` > 0) for `seqxent ood`."""
    return config["datasets"][dataset]["novel_classes"] > 0


def get_ood_files(wildcards):
    """The novel-class results of a data set (results/NAME/ood.json), or none when it holds none out."""
    if is_ood_activated(wildcards.dataset):
        return [f"results/{wildcards.dataset}/ood.json"]
    return []


def get_ood_args(wildcards):
    """`seqxent ood` flags: the temperatures to score at (`ood.temperatures`)."""
    return to_cli_args({"temperatures": config["ood"]["temperatures"]})


def get_report_args(wildcards):
    """`seqxent report` flags (the title; a data set's report appends its name)."""
    title = config["report"]["title"]
    if hasattr(wildcards, "dataset"):
        title = f"{title}: {wildcards.dataset}"
    return to_cli_args({"title": title})


def get_predictions():
    """Entries of `predict:` by name; names must be unique as they name the output files."""
    entries = {entry["name"]: entry for entry in config["predict"]}
    if len(entries) != len(config["predict"]):
        raise ValueError(
            f"Expected config `predict` to have unique names, but got {[e['name'] for e in config['predict']]}"
        )
    return entries


def get_predict_model(wildcards):
    """Model of a prediction: a data set name means its calibrated model.pt; else a path or pretrained name."""
    model = get_predictions()[wildcards.name]["model"]
    return f"results/{model}/model.pt" if model in config["datasets"] else model


def get_predict_input(wildcards):
    """FASTA of a prediction, and its model when that is a file (not a pretrained model name)."""
    model = get_predict_model(wildcards)
    files = {"fasta": get_predictions()[wildcards.name]["input"]}
    if model.endswith(".pt") or "/" in model:
        files["model"] = model
    return files


def get_predict_args(wildcards):
    """`seqxent predict` flags of a prediction (batch size, training device, multilabel threshold)."""
    entry = get_predictions()[wildcards.name]
    return to_cli_args(
        {
            "batch_size": entry["batch_size"],
            "device": config["train"]["device"],
            "threshold": entry["threshold"],
            "precision": entry["precision"],
        }
    )


def get_prediction_names(sharded):
    """Regex of the `predict:` names run in shards (`shards` > 1; sharded=True) or as one job (False).

    Rules take it as a wildcard constraint, so exactly one rule makes results/predictions/NAME.FORMAT.
    """
    names = [n for n, e in get_predictions().items() if (e["shards"] > 1) == sharded]
    return "|".join(names) or "(?!)"  # (?!) matches nothing


def get_predict_fasta(wildcards):
    """The input FASTA of a prediction (the whole file, before sharding)."""
    return get_predictions()[wildcards.name]["input"]


def get_predict_shards(wildcards):
    """Number of shards of a prediction (`shards`)."""
    return get_predictions()[wildcards.name]["shards"]


def get_predict_shard_input(wildcards):
    """One shard's FASTA (made by shard_fasta) and the model file of its prediction."""
    files = get_predict_input(wildcards)
    files["fasta"] = (
        f"results/predictions/{wildcards.name}/shards/{wildcards.shard}.fasta"
    )
    return files


def get_shard_predictions(wildcards):
    """Per-shard prediction files of a sharded prediction, in shard (= input) order."""
    return expand(
        "results/predictions/{name}/shards/{shard}.{format}",
        name=wildcards.name,
        shard=range(get_predict_shards(wildcards)),
        format=wildcards.format,
    )


def get_final_output():
    """Targets of the default target rule: reports of the active data sets and the configured predictions."""
    datasets = get_datasets()
    outputs = expand("results/{dataset}/report.html", dataset=datasets)
    if datasets:
        outputs.append("results/report.html")
    outputs += [
        f"results/predictions/{name}.{e['format']}"
        for name, e in get_predictions().items()
    ]
    if is_activated("ablation"):
        outputs.append("results/ablation/report.html")
    return outputs
