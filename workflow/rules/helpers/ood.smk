# Helpers of the rules in workflow/rules/ood.smk: input functions and parameters read from the config.


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
