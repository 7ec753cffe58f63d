# Helpers of the rules in workflow/rules/train.smk: input functions and parameters read from the config.


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
