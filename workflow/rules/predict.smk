rule predict_fasta:
    input:
        unpack(get_predict_input),
    output:
        predictions="results/predictions/{name}.{format}",
    log:
        "logs/predictions/{name}.{format}.log",
    # Entries with `shards: 1`; sharded ones are made by merge_predictions below.
    wildcard_constraints:
        name=get_prediction_names(sharded=False),
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


rule shard_fasta:
    input:
        fasta=get_predict_fasta,
    output:
        fasta=temp("results/predictions/{name}/shards/{shard}.fasta"),
    log:
        "logs/predictions/{name}/shard_fasta/{shard}.log",
    wildcard_constraints:
        name=get_prediction_names(sharded=True),
        shard=r"\d+",
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        shards=get_predict_shards,
    shell:
        "seqxent shard --input {input.fasta} --shards {params.shards} --index {wildcards.shard} --output {output.fasta} > {log} 2>&1"


rule predict_shard:
    input:
        unpack(get_predict_shard_input),
    output:
        predictions=temp("results/predictions/{name}/shards/{shard}.{format}"),
    log:
        "logs/predictions/{name}/predict_shard/{shard}.{format}.log",
    wildcard_constraints:
        name=get_prediction_names(sharded=True),
        shard=r"\d+",
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


rule merge_predictions:
    input:
        shards=get_shard_predictions,
        fasta=get_predict_fasta,
    output:
        predictions="results/predictions/{name}.{format}",
    log:
        "logs/predictions/{name}/merge_predictions.{format}.log",
    wildcard_constraints:
        name=get_prediction_names(sharded=True),
    conda:
        "../../envs/seqxent.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "seqxent merge --inputs {input.shards} --output {output.predictions} --format {wildcards.format} --fasta {input.fasta} > {log} 2>&1"
