import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake is injected by the script directive)

import yaml  # noqa: E402

from seqxent.data.io import atomic_write  # noqa: E402


def to_plain(value):
    """Turn the config's mapping and sequence types into plain dicts and lists for yaml.safe_dump."""
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value


output = snakemake.output.config  # noqa: F821
settings = to_plain(snakemake.params.settings)  # noqa: F821
with atomic_write(output) as stream:  # a reader never sees a half-written file
    stream.write("# Configuration of this run, as validated by the workflow (defaults filled in).\n")
    yaml.safe_dump(settings, stream, sort_keys=False, default_flow_style=False)
print(f"wrote {output}", file=sys.stderr)
