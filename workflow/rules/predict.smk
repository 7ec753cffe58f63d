rule predict_fasta:
    input:
        unpack(get_predict_input),
    output:
        predictions="results/predictions/{name}.{format}",
    log:
        "logs/predictions/{name}.{format}.log",
    conda:
        "../../envs/seqxent.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=lookup(dpath="resources/gpu", within=config),
    params:
        model=get_predict_model,
        args=get_predict_args,
    shell:
        "seqxent predict --model {params.model} --input {input.fasta} --output {output.predictions} --format {wildcards.format} {params.args} --threads {threads} > {log} 2>&1"
