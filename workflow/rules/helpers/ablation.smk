# Helpers of the rules in workflow/rules/ablation.smk: input functions and parameters read from the config.


def get_ablation_dataset():
    """The prepared data set of the ablation; its name must be defined under `datasets`."""
    name = config["ablation"]["dataset"]
    if name not in config["datasets"]:
        raise ValueError(
            f"Expected config `ablation: dataset` to name one of {list(config['datasets'])}, but got {name!r}"
        )
    return f"results/{name}/dataset.tsv.gz"


def get_ablation_settings(wildcards):
    """Training settings of one run: global `train:`, the data set's `train:`, the variant's, the seed."""
    dataset = config["datasets"][config["ablation"]["dataset"]]
    return {
        **config["train"],
        **dataset["train"],
        **config["ablation"]["variants"][wildcards.variant],
        "seed": int(wildcards.seed),
    }


def get_ablation_teacher(wildcards):
    """Teacher checkpoint of a run: a variant name means that variant's model with the same seed."""
    teacher = get_ablation_settings(wildcards).get("teacher")
    if teacher in config["ablation"]["variants"]:
        return f"results/ablation/{teacher}/seed{wildcards.seed}/model_raw.pt"
    return teacher or []


def get_ablation_train_args(wildcards):
    """`seqxent train` flags of one run (threads come from the rule)."""
    settings = {
        **get_ablation_settings(wildcards),
        "teacher": get_ablation_teacher(wildcards) or None,
    }
    return to_cli_args(settings, exclude={"threads"})


def get_ablation_threads(wildcards):
    """Threads of one training run."""
    return get_ablation_settings(wildcards)["threads"]


def get_ablation_variants():
    """The variants to run: `ablation: run` (checked against `variants`), or every variant in config order."""
    variants = config["ablation"]["variants"]
    unknown = [name for name in config["ablation"]["run"] if name not in variants]
    if unknown:
        raise ValueError(
            f"Expected config `ablation: run` to name variants among {list(variants)}, but got {unknown}"
        )
    return config["ablation"]["run"] or list(variants)


def get_ablation_metrics():
    """metrics.json of every variant to run and every seed, variants in table order."""
    return expand(
        "results/ablation/{variant}/seed{seed}/metrics.json",
        variant=get_ablation_variants(),
        seed=config["ablation"]["seeds"],
    )


def get_ablation_report():
    """The ablation's report when `ablation: activate` is true (for the default target and the index)."""
    return ["results/ablation/report.html"] if is_activated("ablation") else []
