# Helpers of the rules in workflow/rules/report.smk: input functions and parameters read from the config.


def get_report_args(wildcards):
    """`seqxent report` flags (the title; a data set's report appends its name)."""
    title = config["report"]["title"]
    if hasattr(wildcards, "dataset"):
        title = f"{title}: {wildcards.dataset}"
    return to_cli_args({"title": title})
