# Stage `seqxent predict`: the `predict:` entries of the config -> results/predictions/{name}.{format}.
# An entry with `shards: 1` is one predict_fasta job on its input. An entry with `shards: N` > 1 is split
# by shard_fasta, each shard is a predict_fasta job (in parallel, e.g. on a cluster), and merge_predictions
# joins the shards' outputs in input order.


include: "helpers/predict.smk"


wildcard_constraints:
    format=PREDICT_FORMATS,


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


rule predict_fasta:
    input:
        unpack(get_predict_input),
    output:
        # NAME.FORMAT of a one-job entry (the final output), or NAME/shards/SHARD.FORMAT of a sharded one. Not
        # temp(): the flag would hold for both, and Snakemake deletes a temp final output after `all`.
        predictions="results/predictions/{prediction}.{format}",
    log:
        "logs/predictions/{prediction}.{format}.log",
    wildcard_constraints:
        prediction=get_prediction_targets(),
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
