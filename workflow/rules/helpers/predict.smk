# Helpers of the rules in workflow/rules/predict.smk: input functions and parameters read from the config.

from seqxent.predict.formats import FORMATS

# The `format` wildcard: every output format of `seqxent predict`.
PREDICT_FORMATS = "|".join(FORMATS)


def get_predictions():
    """Entries of `predict:` by name; names must be unique as they name the output files."""
    entries = {entry["name"]: entry for entry in config["predict"]}
    if len(entries) != len(config["predict"]):
        raise ValueError(
            f"Expected config `predict` to have unique names, but got {[e['name'] for e in config['predict']]}"
        )
    return entries


def get_prediction_names(sharded):
    """Regex of the `predict:` names run in shards (`shards` > 1; sharded=True) or as one job (False)."""
    names = [n for n, e in get_predictions().items() if (e["shards"] > 1) == sharded]
    return "|".join(names) or "(?!)"  # (?!) matches nothing


def get_prediction_targets():
    """Regex of predict_fasta's `prediction` wildcard: NAME of an entry run as one job, or NAME/shards/SHARD
    of one shard of a sharded entry (whose NAME.FORMAT is made by merge_predictions, never by predict_fasta).
    """
    whole = get_prediction_names(sharded=False)
    sharded = get_prediction_names(sharded=True)
    return rf"{whole}|(?:{sharded})/shards/\d+"


def get_prediction_entry(wildcards):
    """The `predict:` entry of a predict_fasta job, from its `prediction` wildcard (NAME[/shards/SHARD])."""
    return get_predictions()[wildcards.prediction.partition("/shards/")[0]]


def get_predict_model(wildcards):
    """Model of a prediction: a data set name means its calibrated model.pt; else a path or pretrained name."""
    model = get_prediction_entry(wildcards)["model"]
    return f"results/{model}/model.pt" if model in config["datasets"] else model


def get_predict_input(wildcards):
    """FASTA of a predict_fasta job (the entry's input, or one shard made by shard_fasta), and its model
    when that is a file (not a pretrained model name)."""
    name, _, shard = wildcards.prediction.partition("/shards/")
    files = {
        "fasta": (
            f"results/predictions/{name}/shards/{shard}.fasta"
            if shard
            else get_predictions()[name]["input"]
        )
    }
    model = get_predict_model(wildcards)
    if model.endswith(".pt") or "/" in model:
        files["model"] = model
    return files


def get_predict_args(wildcards):
    """`seqxent predict` flags of a prediction (batch size, device, multilabel threshold, strand, cut-off)."""
    entry = get_prediction_entry(wildcards)
    return to_cli_args(
        {
            "batch_size": entry["batch_size"],
            "device": config["train"]["device"],
            "threshold": entry["threshold"],
            "precision": entry["precision"],
            # `plus` is the CLI's default: left out, so the command lines of existing entries stay the same.
            "strand": None if entry["strand"] == "plus" else entry["strand"],
            "cutoff": entry["cutoff"],
        }
    )


def get_predict_fasta(wildcards):
    """The input FASTA of a prediction (the whole file, before sharding)."""
    return get_predictions()[wildcards.name]["input"]


def get_predict_shards(wildcards):
    """Number of shards of a prediction (`shards`)."""
    return get_predictions()[wildcards.name]["shards"]


def get_shard_predictions(wildcards):
    """Per-shard prediction files of a sharded prediction, in shard (= input) order."""
    return expand(
        "results/predictions/{name}/shards/{shard}.{format}",
        name=wildcards.name,
        shard=range(get_predict_shards(wildcards)),
        format=wildcards.format,
    )
