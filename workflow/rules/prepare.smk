# Stage `seqxent prepare`: source files -> results/{dataset}/dataset.tsv.gz (checked records, groups, split).


include: "helpers/prepare.smk"


rule prepare_dataset:
    input:
        unpack(get_prepare_input),
    output:
        dataset="results/{dataset}/dataset.tsv.gz",
        summary="results/{dataset}/split_summary.json",
    log:
        "logs/{dataset}/prepare_dataset.log",
    conda:
        # mmseqs2 clusters homologous chains of residue tasks (seqxent falls back to k-mers without it).
        "../../envs/tools.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        args=get_prepare_args,
        homology=get_homology_method,
    shell:
        "seqxent prepare --name {wildcards.dataset} {params.args} --threads {threads} --output {output.dataset} --summary {output.summary} > {log} 2>&1"


rule derive_bin_countries:
    input:
        table="data/coi_bold.tsv",
    output:
        # Read by the multilabel data set coi_bin_countries (config.yaml) as its `labels` table.
        table="results/derived/coi_bold_bin_countries.tsv",
    log:
        "logs/derived/coi_bold_bin_countries.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        # Each record gets the countries of all records of its BOLD BIN, joined by ';'.
        group_column="bin",
        value_column="country",
        output_column="bin_countries",
    script:
        "../scripts/group_union_labels.py"
