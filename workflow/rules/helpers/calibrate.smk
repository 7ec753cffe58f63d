# Helpers of the rules in workflow/rules/calibrate.smk: input functions and parameters read from the config.


def get_calibrate_args(wildcards):
    """`seqxent calibrate` flags: the prior on the temperature (config `calibrate`), novelty score and target
    recall of the abstain threshold, and the k of the k-mer reference (config `ood`). kmer_distance needs
    DNA: other data sets fall back to energy.
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
