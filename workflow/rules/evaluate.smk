# Stage `seqxent evaluate`: the calibrated model on the test split, next to its baselines and novel-class
# results -> results/{dataset}/metrics.json and the plots of the report.


include: "helpers/evaluate.smk"


rule evaluate_model:
    input:
        model="results/{dataset}/model.pt",
        dataset="results/{dataset}/dataset.tsv.gz",
        history="results/{dataset}/history.tsv",
        summary="results/{dataset}/split_summary.json",
        baselines=get_baseline_files,
        sources=get_source_files,
        # Novel-class results, for data sets with `novel_classes` > 0.
        ood=get_ood_files,
    output:
        metrics="results/{dataset}/metrics.json",
        # Wall-clock values (training and baseline seconds, time of the run): metrics.json stays identical on a rerun.
        timings="results/{dataset}/timings.json",
        predictions="results/{dataset}/test_predictions.tsv.gz",
        confusion=report(
            "results/{dataset}/plots/confusion.png",
            caption="../report/confusion.rst",
            category="Evaluation",
            labels={"dataset": "{dataset}", "figure": "confusion matrix"},
        ),
        learning_curves=report(
            "results/{dataset}/plots/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Training",
            labels={"dataset": "{dataset}", "figure": "learning curves"},
        ),
        reliability=report(
            "results/{dataset}/plots/reliability.png",
            caption="../report/reliability.rst",
            category="Calibration",
            labels={"dataset": "{dataset}", "figure": "reliability diagram"},
        ),
    log:
        "logs/{dataset}/evaluate_model.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        plots_dir=subpath(output.confusion, parent=True),
        args=get_evaluate_args,
    shell:
        "seqxent evaluate --model {input.model} --dataset {input.dataset} --split test --output {output.metrics} --timings {output.timings} --predictions {output.predictions} --plots-dir {params.plots_dir} --history {input.history} --summary {input.summary} {params.args} --threads {threads} > {log} 2>&1"
