# Stage `seqxent ablation`: every loss variant of `ablation:` in config.yaml is trained with every seed on
# one data set, calibrated and evaluated like that data set's own model, then summarised as mean +- sd
# over seeds. `snakemake ablation` (make ablation) builds it; `ablation: activate: true` adds it to the
# default target and to results/report.html.


include: "helpers/ablation.smk"


wildcard_constraints:
    variant="|".join(config["ablation"]["variants"]),
    seed=r"\d+",


rule train_ablation:
    input:
        dataset=get_ablation_dataset(),
        teacher=get_ablation_teacher,
    output:
        model="results/ablation/{variant}/seed{seed}/model_raw.pt",
        history="results/ablation/{variant}/seed{seed}/history.tsv",
    log:
        "logs/ablation/{variant}/seed{seed}/train_ablation.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: get_ablation_threads
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=lookup(dpath="resources/gpu", within=config),
    params:
        args=get_ablation_train_args,
        # Resumable state, not an output (snakemake would delete it with a failed job); removed on success.
        state="results/ablation/{variant}/seed{seed}/train_state.pt",
    shell:
        "seqxent train --dataset {input.dataset} --output {output.model} --history {output.history} --state {params.state} {params.args} --threads {threads} > {log} 2>&1"


rule calibrate_ablation:
    input:
        model="results/ablation/{variant}/seed{seed}/model_raw.pt",
        dataset=get_ablation_dataset(),
    output:
        model="results/ablation/{variant}/seed{seed}/model.pt",
    log:
        "logs/ablation/{variant}/seed{seed}/calibrate_ablation.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "seqxent calibrate --model {input.model} --dataset {input.dataset} --output {output.model} --threads {threads} > {log} 2>&1"


rule evaluate_ablation:
    input:
        model="results/ablation/{variant}/seed{seed}/model.pt",
        dataset=get_ablation_dataset(),
    output:
        metrics="results/ablation/{variant}/seed{seed}/metrics.json",
    log:
        "logs/ablation/{variant}/seed{seed}/evaluate_ablation.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        args=to_cli_args(config["evaluate"]),
    shell:
        "seqxent evaluate --model {input.model} --dataset {input.dataset} --split test --output {output.metrics} {params.args} --threads {threads} > {log} 2>&1"


rule summarise_ablation:
    input:
        metrics=get_ablation_metrics(),
        models=[
            path.replace("metrics.json", "model.pt") for path in get_ablation_metrics()
        ],
        dataset=get_ablation_dataset(),
    output:
        table="results/ablation/ablation.tsv",
        json="results/ablation/ablation.json",
        plot=report(
            "results/ablation/plots/ablation.png",
            caption="../report/ablation.rst",
            category="Ablation",
            labels={"figure": "loss variants"},
        ),
    log:
        "logs/ablation/summarise_ablation.log",
    conda:
        "../../envs/seqxent.yaml"
    # The models' prediction speed is timed here, on one thread.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "seqxent ablation {input.metrics} --dataset {input.dataset} --output {output.table} --json {output.json} --plot {output.plot} > {log} 2>&1"


rule render_ablation_report:
    input:
        json="results/ablation/ablation.json",
        plot="results/ablation/plots/ablation.png",
    output:
        html=report(
            "results/ablation/report.html",
            caption="../report/report.rst",
            category="Reports",
            labels={"dataset": "ablation", "figure": "report"},
        ),
    log:
        "logs/ablation/render_ablation_report.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        directory=subpath(input.json, parent=True),
        args=to_cli_args({"title": f"{config['report']['title']}: ablation"}),
    shell:
        "seqxent report {params.directory} --output {output.html} {params.args} > {log} 2>&1"


rule ablation:
    input:
        "results/ablation/report.html",
