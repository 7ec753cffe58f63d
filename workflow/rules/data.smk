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
    shell:
        "seqxent prepare --name {wildcards.dataset} {params.args} --threads {threads} --output {output.dataset} --summary {output.summary} > {log} 2>&1"
