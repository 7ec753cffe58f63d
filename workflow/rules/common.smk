# Config validation and the helpers every stage uses. A stage's own `get_*` helpers live in
# workflow/rules/helpers/<stage>.smk, included at the top of its rules file.
import functools
import shlex
import sys

from snakemake.utils import validate

from seqxent import tools
from seqxent.tasks import get_task

validate(config, schema="../schemas/config.schema.yaml")


wildcard_constraints:
    dataset="|".join(config["datasets"]),


def get_datasets():
    """Names of the data sets with `activate: true`, in config order."""
    return [name for name, entry in config["datasets"].items() if entry["activate"]]


def is_activated(xpath):
    """Whether the config entry at `xpath` (e.g. "tools/sintax") has `activate: true`."""
    return bool(lookup(dpath=xpath, within=config, default={}).get("activate", False))


def to_cli_args(settings, exclude=()):
    """Turn config keys into CLI flags: `min_per_class: 5` -> `--min-per-class 5`.

    Lists give repeated values (`--fractions 0.8 0.1 0.1`) and `true` a bare flag; `false`, null and
    empty lists are left out, so the CLI's own default applies. Values are shell-quoted.
    """
    args = []
    for key, value in settings.items():
        if key in exclude or value is None or value is False or value == []:
            continue
        args.append(f"--{key.replace('_', '-')}")
        if value is not True:
            values = value if isinstance(value, list) else [value]
            args.extend(shlex.quote(str(item)) for item in values)
    return " ".join(args)


def is_conda_deployment():
    """Whether jobs run in conda environments (`--sdm conda`): envs/tools.yaml then brings every tool."""
    methods = getattr(
        getattr(workflow, "deployment_settings", None), "deployment_method", ()
    )
    return "conda" in {str(method) for method in methods}


@functools.cache
def is_tool_installed(tool):
    """Whether the optional tool (a key of seqxent.tools.TOOLS) can run; logs one line once if not.

    Jobs check again where they run (`seqxent baseline --missing-tool skip`), so a cluster node without
    the tool writes a 'not run' result instead of failing.
    """
    if is_conda_deployment() or tools.is_installed(tool):
        return True
    users = {
        "mmseqs2": "homology splits use k-mer clustering and skip the leakage check"
    }
    what = users.get(
        tool,
        f"the {'/'.join(m for m, t in tools.PEER_TOOLS.items() if t == tool)} peer is not run",
    )
    print(f"seqxent: {tools.skip_message(tool, what)}", file=sys.stderr)
    return False


def get_final_output():
    """Targets of the default target rule: reports of the active data sets and the configured predictions."""
    datasets = get_datasets()
    outputs = expand("results/{dataset}/report.html", dataset=datasets)
    if datasets:
        outputs.append("results/report.html")
    outputs += [
        f"results/predictions/{name}.{e['format']}"
        for name, e in get_predictions().items()
    ]
    outputs += get_ablation_report()
    return outputs
