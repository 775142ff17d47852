"""Validate an experiment config against its JSON schema, fill defaults, explain mistakes.

Snakemake's own ``validate`` reports the first jsonschema error in jsonschema's words; this
module collects every error, names the key as a dotted path, lists the allowed values and
suggests the closest one, then checks what a schema cannot: that each architecture accepts the
input shape of the dataset it is paired with.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml


class ConfigError(ValueError):
    """The config is invalid; the message lists every problem and how to fix it."""


def load_schema(path: Path | str) -> dict[str, Any]:
    """Read a YAML (or JSON) schema file."""
    return yaml.safe_load(Path(path).read_text())


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(node, root)


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def fill_defaults(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """Return ``value`` with schema defaults filled in at every level.

    Where the schema marks an object with ``x-merge-default: true``, its default is merged
    with the given object key by key, so a config that overrides one key of one
    architecture's recipe keeps the rest of that recipe and the other recipes. Elsewhere a
    given value replaces the default (a config naming only Fashion-MNIST trains no MNIST).
    """
    schema = _resolve(schema, root)
    default = schema.get("default")
    if value is None and default is not None:
        value = copy.deepcopy(default)
    elif isinstance(value, dict) and isinstance(default, dict) and schema.get("x-merge-default"):
        value = _deep_merge(default, value)
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    filled = dict(value)
    for key, sub in properties.items():
        if key in filled or "default" in _resolve(sub, root):
            filled[key] = fill_defaults(filled.get(key), sub, root)
    if isinstance(extra, dict):
        for key in filled:
            if key not in properties:
                filled[key] = fill_defaults(filled[key], extra, root)
    return filled


def _dotted(path: Any) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "(top level)"


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _explain(error: jsonschema.ValidationError, root: Mapping[str, Any]) -> str:
    key = _dotted(error.absolute_path)
    schema = _resolve(error.schema, root) if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        given = set(error.instance) if isinstance(error.instance, dict) else set()
        unknown = sorted(given - set(allowed))
        return "; ".join(
            f"config key '{key + '.' if key != '(top level)' else ''}{name}' is not a known setting"
            f"{_suggest(name, allowed)}; allowed keys here: {', '.join(allowed)}"
            for name in unknown
        )
    if error.validator == "enum":
        allowed = [str(v) for v in error.validator_value]
        return (
            f"config key '{key}': {error.instance!r} is not allowed"
            f"{_suggest(str(error.instance), allowed)}; allowed values: {', '.join(allowed)}"
        )
    if error.validator == "propertyNames":
        names = _resolve(error.schema["propertyNames"], root)
        allowed = [str(v) for v in names.get("enum", [])]
        bad = error.instance if isinstance(error.instance, str) else None
        if bad is None:
            for cause in error.context or []:
                bad = cause.instance
        return (
            f"config key '{key}.{bad}' names an unknown {names.get('description', 'entry')[:-1].lower()}"
            f"{_suggest(str(bad), allowed)}; allowed: {', '.join(allowed)}"
        )
    description = schema.get("description", "").strip()
    hint = f" ({description})" if description else ""
    return f"config key '{key}': {error.message}{hint}"


def _pairs(config: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(config key, dataset, architectures) of every training the config implies."""
    pairs = [(f"datasets.{d}.architectures", d, list(run["architectures"]))
             for d, run in config["datasets"].items()]
    compare = config["compare"]
    for dataset in compare["datasets"]:
        pairs.append(("compare.architectures", dataset, compare["architectures"]))
        pairs.append(("compare.permutation.architectures", dataset,
                      compare["permutation"]["architectures"]))
        pairs.append(("compare.data_efficiency.architectures", dataset,
                      compare["data_efficiency"]["architectures"]))
    return pairs


def validate_config(
    config: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    model_shapes: Mapping[str, tuple[int, ...]] | None = None,
    dataset_shapes: Mapping[str, tuple[int, ...]] | None = None,
    project_dir: Path | str | None = None,
) -> dict[str, Any]:
    """Return the config with defaults filled, or raise :class:`ConfigError` naming every problem.

    ``model_shapes`` and ``dataset_shapes`` (name -> (C, H, W)) enable the check that each
    configured architecture accepts its dataset's images; ``project_dir`` the check that every
    configured data folder exists (relative ones are taken relative to it).
    """
    problems: list[str] = []
    if not isinstance(config, Mapping):
        raise ConfigError(f"the config must be a mapping of settings, found {type(config).__name__}")
    filled = fill_defaults(dict(config), schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(filled), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(_explain(error, schema))
    if not problems and model_shapes is not None and dataset_shapes is not None:
        for key, dataset, archs in _pairs(filled):
            have = tuple(dataset_shapes[dataset])
            for arch in archs:
                want = tuple(model_shapes[arch])
                if want != have:
                    fitting = sorted(a for a, s in model_shapes.items() if tuple(s) == have)
                    problems.append(
                        f"config key '{key}': {arch} takes {'x'.join(map(str, want))} images "
                        f"but {dataset} has {'x'.join(map(str, have))}; architectures that fit "
                        f"{dataset}: {', '.join(fitting)}"
                    )
    if not problems and project_dir is not None:
        for i, folder in enumerate(filled["data"]["search_path"]):
            path = Path(folder).expanduser()
            path = path if path.is_absolute() else Path(project_dir) / path
            if not path.is_dir():
                problems.append(
                    f"config key 'data.search_path[{i}]': folder {path} does not exist; correct "
                    f"the path or remove the entry (data/raw and CNNLAB_DATA_PATH are searched "
                    f"as well)"
                )
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(
            f"invalid configuration ({len(problems)} problem{'s' if len(problems) > 1 else ''}); "
            f"nothing was run and nothing was deleted:\n{lines}"
        )
    return filled
