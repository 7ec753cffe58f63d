# Stage `seqxent baseline`: the built-in baselines and the peer tools on a data set's test split
# (results/{dataset}/baselines/{method}.json), compared with the model by evaluate_model.


include: "helpers/baseline.smk"


wildcard_constraints:
    method="|".join([*BUILTIN_BASELINES, *PEER_TOOLS]),


rule run_baseline:
    input:
        dataset="results/{dataset}/dataset.tsv.gz",
    output:
        result="results/{dataset}/baselines/{method}.json",
    log:
        "logs/{dataset}/run_baseline/{method}.log",
    conda:
        # Peer tools (vsearch, BLAST+, RDP classifier) next to seqxent.
        "../../envs/tools.yaml"
    threads: lookup(dpath="baselines/threads", within=config)
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        args=get_baseline_args,
        # Changes when a peer's tool is installed or removed, so that its result is made again.
        tool_status=get_tool_status,
    shell:
        # A peer whose tool is missing writes 'not run: <tool> not installed' (shown in the report).
        "seqxent baseline --dataset {input.dataset} --method {wildcards.method} --output {output.result} {params.args} --threads {threads} --missing-tool skip > {log} 2>&1"
