import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake is injected by the script directive)

import os  # noqa: E402
import tempfile  # noqa: E402

import yaml  # noqa: E402


def to_plain(value):
    """Turn the config's mapping and sequence types into plain dicts and lists for yaml.safe_dump."""
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value


output = snakemake.output.config  # noqa: F821
settings = to_plain(snakemake.params.settings)  # noqa: F821
# Write next to the target, then rename: a reader never sees a half-written file.
handle, tmp = tempfile.mkstemp(dir=os.path.dirname(output) or ".", suffix=".tmp")
umask = os.umask(0o022)
os.umask(umask)
os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the output gets an ordinary file's permissions
with os.fdopen(handle, "w") as stream:
    stream.write("# Configuration of this run, as validated by the workflow (defaults filled in).\n")
    yaml.safe_dump(settings, stream, sort_keys=False, default_flow_style=False)
os.replace(tmp, output)
print(f"wrote {output}", file=sys.stderr)
