"""The model contract: validation of a config.json against the repository's JSON Schema.

The schema, include/tptt/Model/tptt-model.schema.json, is the single definition shared with the
C++ validator of tptt-compile. Validation uses Debian's python3-jsonschema.
"""

import json
import pathlib

SCHEMA_PATH = pathlib.Path(__file__).resolve().parents[2] / "include" / "tptt" / "Model" / "tptt-model.schema.json"


class ConfigError(ValueError):
    """A config.json that breaks the model contract; the message names the field."""


def schema():
    return json.loads(SCHEMA_PATH.read_text())


def read_json(path):
    """The JSON document at ``path``; FileNotFoundError or ConfigError naming it otherwise."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None


def is_reference_checkpoint(config):
    """Whether ``config`` is the flat TpttConfig of a checkpoint saved by the reference library."""
    return isinstance(config, dict) and config.get("architectures") == ["TpttModel"]


def validate(config):
    """Raises ConfigError naming the first offending field, like tptt-compile does."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    path = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path)
    path = path.replace(".[", "[")
    where = f"field '{path}'" if path else "the document"
    raise ConfigError(f"{where}: {error.message}")
