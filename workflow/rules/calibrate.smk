rule calibrate_temperature:
    input:
        model="results/{dataset}/model_raw.pt",
        dataset="results/{dataset}/dataset.tsv.gz",
    output:
        model="results/{dataset}/model.pt",
    log:
        "logs/{dataset}/calibrate_temperature.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "seqxent calibrate --model {input.model} --dataset {input.dataset} --output {output.model} --threads {threads} > {log} 2>&1"
