# Stage `seqxent ood`: how well model.pt flags the classes held out of training (`novel_classes` > 0).


include: "helpers/ood.smk"


rule score_ood:
    input:
        model="results/{dataset}/model.pt",
        dataset="results/{dataset}/dataset.tsv.gz",
    output:
        # AUROC / AUPR / FPR95 per novelty score and temperature, and over-classification of the held-out
        # classes at the validation-chosen abstain threshold; copied into metrics.json by evaluate_model.
        ood="results/{dataset}/ood.json",
    log:
        "logs/{dataset}/score_ood.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        args=get_ood_args,
    shell:
        "seqxent ood --model {input.model} --dataset {input.dataset} --output {output.ood} {params.args} --threads {threads} > {log} 2>&1"
