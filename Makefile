# seqxent — common tasks. `make run` trains and reports on the bundled data; `make test` runs the test suite.
# Everything runs from a local virtual environment (.venv), created on first use.

VENV     ?= .venv
PYTHON   ?= python3
CORES    ?= 2
BIN      := $(abspath $(VENV))/bin
# Snakemake's shell rules call `seqxent`: put the venv first on PATH for every workflow command.
SNAKE    := PATH="$(BIN):$$PATH" $(BIN)/snakemake

.PHONY: install run full pretrained dry-run test lint bench bench-quick bench-1m ablation ablation-jsd report-zip tools clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install seqxent with its pinned dependencies

run: install  ## the quick preset: coi_species, coi_country, ss3 -> results/report.html
	$(SNAKE) --cores $(CORES)

full: install  ## the full preset: every data set, every record (hours on 2 cores)
	$(SNAKE) --cores $(CORES) --configfile config.yaml presets/full.yaml

PRETRAINED := ss3 ss8 coi_species coi_country 16s_genus 16s_taxonomy
pretrained: install  ## after `make full`: copy its calibrated models into seqxent/pretrained/ (shipped in the package)
	mkdir -p seqxent/pretrained
	for name in $(PRETRAINED); do cp results/$$name/model.pt seqxent/pretrained/$$name.pt; done
	$(BIN)/seqxent predict --list-models

dry-run: install
	$(SNAKE) -n --cores $(CORES)

test: install  ## unit tests, doctests and an end-to-end workflow run on a tiny config
	PATH="$(BIN):$$PATH" $(BIN)/pytest

lint: install  ## ruff, the import layers contract (pyproject.toml [tool.importlinter]), snakefmt, snakemake --lint
	$(BIN)/ruff check seqxent tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/snakefmt --check Snakefile workflow
	$(SNAKE) --lint

ablation: install  ## loss-variant ablation (config `ablation:`) -> results/ablation/ablation.{tsv,json}, report.html
	$(SNAKE) --cores $(CORES) ablation

ablation-jsd: install  ## ss3 with Jensen-Shannon lambda 0, 0.1, 0.3 (Q3, SOV'99, segment lengths; ~30 min) -> results/ablation/
	$(SNAKE) ablation --cores $(CORES) --configfile config.yaml presets/ablation_jsd.yaml

bench: install  ## prediction throughput vs vsearch --sintax and blastn, 10k and 100k sequences (~15 min) -> results/bench/
	PATH="$(BIN):$$PATH" $(BIN)/python -m benchmarks.bench --output results/bench

bench-quick: install  ## the same with 10k sequences only (~6 min) -> results/bench_quick/
	PATH="$(BIN):$$PATH" $(BIN)/python -m benchmarks.bench --quick --output results/bench_quick

bench-1m: install  ## 1M COI barcodes (and 10k, for SINTAX): throughput and flat memory (~15 min) -> results/bench_1m/
	PATH="$(BIN):$$PATH" $(BIN)/python -m benchmarks.bench --tasks coi --sizes 10000 1000000 --output results/bench_1m

report-zip: install  ## Snakemake's own report of the last run
	$(SNAKE) --cores $(CORES) --report report.zip

tools:  ## external tools (Debian, needs root): mmseqs2 for homology splits, peers for the comparison
	apt-get update -qq && apt-get install -y -qq mmseqs2 vsearch ncbi-blast+ rdp-classifier

clean:
	rm -rf results logs .snakemake
