"""The training settings are stated three times; this test keeps the three in agreement.

1. ``workflow/schemas/config.schema.yaml``: the ``train:`` block (keys, ``default:``, ``enum``), what the workflow
   passes to ``seqxent train``;
2. the :class:`TrainConfig` dataclass: field defaults, and the choices its checks accept;
3. ``seqxent train``'s argparse flags (:func:`seqxent.commands.train.add_arguments`): defaults and ``choices``.

A setting added, renamed or re-defaulted in one place and not the others fails here, naming the place.
"""

import argparse
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from seqxent.commands.train import add_arguments

try:
    from seqxent.train.loop import TrainConfig
except ImportError:  # TrainConfig moves to seqxent.train.config
    from seqxent.train.config import TrainConfig

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
# Flags of `seqxent train` that are not training settings: inputs and outputs of the job.
IO_FLAGS = {"dataset", "output", "history", "state"}
# JSON-schema type -> Python type of the default.
TYPES = {"integer": int, "number": float, "string": str}
# A value no choice list holds.
BOGUS = "no_such_choice"


def _schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())  # resolves the YAML merge keys (<<: *epochs) of the schema


def _schema_train() -> dict:
    """name -> property of the global `train:` block (with its `default:`)."""
    return _schema()["properties"]["train"]["properties"]


def _dataclass_defaults() -> dict:
    return {f.name: f.default for f in fields(TrainConfig)}


def _cli_actions() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    # argparse has no public listing of its actions; _actions is stable across Python versions.
    return {action.dest: action for action in parser._actions if action.dest != "help"}


def _schema_default(prop: dict):
    # null (teacher) is left out by the workflow's to_cli_args, so the CLI default "" applies: the same setting.
    return "" if prop["default"] is None else prop["default"]


def test_the_three_name_the_same_settings():
    schema = set(_schema_train())
    dataclass = set(_dataclass_defaults())
    cli = set(_cli_actions()) - IO_FLAGS
    assert schema - dataclass == set(), "in the schema's train: block but not a TrainConfig field"
    assert dataclass - schema == set(), "TrainConfig fields missing from the schema's train: block"
    assert cli ^ dataclass == set(), "seqxent train flags and TrainConfig fields differ"


def test_a_data_sets_train_block_takes_the_same_settings():
    per_dataset = set(_schema()["$defs"]["train_settings"]["properties"])
    assert per_dataset == set(_schema_train())


def test_every_schema_setting_has_a_default():
    assert [name for name, prop in _schema_train().items() if "default" not in prop] == []


@pytest.mark.parametrize("name", sorted(_schema_train()))
def test_defaults_agree(name):
    schema = _schema_default(_schema_train()[name])
    dataclass = _dataclass_defaults()[name]
    cli = _cli_actions()[name].default
    assert (schema, cli) == (dataclass, dataclass), (
        f"default of `{name}`: schema {schema!r}, TrainConfig {dataclass!r}, seqxent train {cli!r}")


@pytest.mark.parametrize("name", sorted(_schema_train()))
def test_types_agree(name):
    prop = _schema_train()[name]
    types = [t for t in ([prop["type"]] if isinstance(prop["type"], str) else prop["type"]) if t != "null"]
    assert len(types) == 1, f"`{name}` has several non-null types in the schema: {types}"
    expected = TYPES[types[0]]
    dataclass = _dataclass_defaults()[name]
    assert type(dataclass) is expected, f"`{name}`: schema {types[0]}, TrainConfig default {dataclass!r}"
    assert _cli_actions()[name].type is expected, f"`{name}`: schema {types[0]}, CLI type {_cli_actions()[name].type}"


def _rejected(name: str, value) -> Exception | None:
    """The error TrainConfig raises for ``name=value`` (at construction, or when building its loss), or None."""
    try:
        TrainConfig(**{name: value}).loss_config()
    except (ValueError, TypeError) as err:  # InputError is a ValueError
        return err
    return None


def test_choice_settings_agree():
    schema = {name: prop["enum"] for name, prop in _schema_train().items() if "enum" in prop}
    cli = {name: action.choices for name, action in _cli_actions().items() if action.choices is not None}
    assert set(cli) == set(schema), (
        f"settings with a choice list: schema {sorted(schema)}, seqxent train {sorted(cli)}")


@pytest.mark.parametrize("name", sorted(n for n, p in _schema_train().items() if "enum" in p))
def test_choices_agree(name):
    choices = _schema_train()[name]["enum"]
    cli = _cli_actions()[name].choices
    assert cli is not None and sorted(cli) == sorted(choices), (
        f"choices of `{name}`: schema {choices}, seqxent train {cli}")
    for value in choices:
        assert _rejected(name, value) is None, f"TrainConfig rejects {name}={value!r}, a choice of the schema"
    error = _rejected(name, BOGUS)
    assert error is not None, f"TrainConfig accepts {name}={BOGUS!r}; the schema allows only {choices}"
    for value in choices:  # the error states the valid choices (STYLE.md: name argument, expectation, value)
        assert repr(value) in str(error), f"the error for {name}={BOGUS!r} does not list {value!r}: {error}"
