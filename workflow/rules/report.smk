# Stage `seqxent report`: a report per data set (results/{dataset}/report.html) and the index of them all
# (results/report.html), with the validated config.


include: "helpers/report.smk"


localrules:
    dump_config,


rule render_dataset_report:
    input:
        metrics="results/{dataset}/metrics.json",
        timings="results/{dataset}/timings.json",
        history="results/{dataset}/history.tsv",
        summary="results/{dataset}/split_summary.json",
        plots=expand(
            "results/{{dataset}}/plots/{plot}.png",
            plot=["confusion", "learning_curves", "reliability"],
        ),
    output:
        html=report(
            "results/{dataset}/report.html",
            caption="../report/report.rst",
            category="Reports",
            labels={"dataset": "{dataset}", "figure": "report"},
        ),
    log:
        "logs/{dataset}/render_dataset_report.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        directory=subpath(input.metrics, parent=True),
        args=get_report_args,
    shell:
        "seqxent report {params.directory} --output {output.html} {params.args} > {log} 2>&1"


rule dump_config:
    output:
        config="results/config.yaml",
    log:
        "logs/report/dump_config.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        # The validated config, defaults filled in; as a param, a changed config reruns this rule.
        settings=config,
    script:
        "../scripts/dump_config.py"


rule render_report:
    input:
        reports=expand("results/{dataset}/report.html", dataset=get_datasets()),
        ablation=get_ablation_report(),
        config="results/config.yaml",
    output:
        html="results/report.html",
    log:
        "logs/report/render_report.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        directories=expand("results/{dataset}", dataset=get_datasets())
        + (["results/ablation"] if is_activated("ablation") else []),
        args=get_report_args,
    shell:
        "seqxent report {params.directories} --config {input.config} --output {output.html} {params.args} > {log} 2>&1"
