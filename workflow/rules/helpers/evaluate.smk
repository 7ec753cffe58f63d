# Helpers of the rules in workflow/rules/evaluate.smk: input functions and parameters read from the config.

import json


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
