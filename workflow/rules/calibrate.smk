# Stage `seqxent calibrate`: model_raw.pt -> results/{dataset}/model.pt with a temperature fitted on the
# validation split (and, for sequence tasks, a novelty score and abstain threshold).


include: "helpers/calibrate.smk"


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
    params:
        # Sequence tasks: the novelty score and recall of the abstain threshold stored in model.pt.
        args=get_calibrate_args,
    shell:
        "seqxent calibrate --model {input.model} --dataset {input.dataset} --output {output.model} {params.args} --threads {threads} > {log} 2>&1"
