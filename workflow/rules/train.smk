# Stage `seqxent train`: dataset.tsv.gz -> results/{dataset}/model_raw.pt (uncalibrated) and history.tsv.


include: "helpers/train.smk"


rule train_model:
    input:
        dataset="results/{dataset}/dataset.tsv.gz",
        teacher=get_train_teacher,
    output:
        model="results/{dataset}/model_raw.pt",
        history="results/{dataset}/history.tsv",
    log:
        "logs/{dataset}/train_model.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: get_train_threads
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=lookup(dpath="resources/gpu", within=config),
    params:
        args=get_train_args,
        # Resumable training state: a killed job resumes after its last finished epoch when rerun. Not an
        # output (snakemake deletes the outputs of a failed job); seqxent removes it after success.
        state="results/{dataset}/train_state.pt",
    shell:
        "seqxent train --dataset {input.dataset} --output {output.model} --history {output.history} --state {params.state} {params.args} --threads {threads} > {log} 2>&1"
