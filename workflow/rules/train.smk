rule train_model:
    input:
        dataset="results/{dataset}/dataset.tsv.gz",
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
    shell:
        "seqxent train --dataset {input.dataset} --output {output.model} --history {output.history} {params.args} --threads {threads} > {log} 2>&1"
