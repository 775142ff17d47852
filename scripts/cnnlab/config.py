"""Validate an experiment config against its JSON schema, fill defaults, explain mistakes.

Snakemake's own ``validate`` reports the first jsonschema error in jsonschema's words; this
module collects every error, names the key as a dotted path, lists the allowed values and
suggests the closest one, then checks what a schema cannot: that every number is finite, that
each architecture accepts the input shape of the dataset it is paired with, that every training
subset holds an image of each class and has a name of its own, and that the report's font can
draw the title. Config files themselves are read strictly first (:mod:`cnnlab.config_files`).
"""

from __future__ import annotations

import copy
import difflib
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from cnnlab.datasets.catalog import DATASETS, DataError, subset_dataset_name, validation_count

NOTHING_DONE = "nothing was run and nothing was deleted"


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
    message = error.message
    if error.validator == "maxLength" and isinstance(error.instance, str):  # not the whole text again
        message = (f"{len(error.instance)} characters, more than the {error.validator_value} "
                   f"allowed; shorten it")
    return f"config key '{key}': {message}{hint}{_number_hint(error)}"


def _number_hint(error: jsonschema.ValidationError) -> str:
    """How to write a number that YAML read as text: PyYAML takes ``1e-3`` (no dot, or no sign
    after the e) and anything quoted for a string."""
    if error.validator != "type" or not isinstance(error.instance, str):
        return ""
    wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    if not {"number", "integer"} & set(wanted):
        return ""
    try:
        value = float(error.instance)
    except ValueError:
        return ""
    if not math.isfinite(value):
        return ""
    text = str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    return f"; YAML reads {error.instance!r} as text, not a number: write {text}"


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


def _non_finite(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], float]]:
    """(path, value) of every NaN and infinity in ``value``: JSON-schema bounds compare false
    with NaN, and an infinite weight decay passes a lower bound, so the schema lets them by."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(path, value)]
    if isinstance(value, dict):
        return [p for key, sub in value.items() for p in _non_finite(sub, (*path, key))]
    if isinstance(value, list):
        return [p for i, sub in enumerate(value) for p in _non_finite(sub, (*path, i))]
    return []


def _at_least(value: float) -> str:
    """``value`` rounded up to two significant digits, as text."""
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return f"{math.ceil(value / step) * step:.2g}"


def _validation_problems(config: Mapping[str, Any]) -> list[str]:
    """A validation split that would leave no training images of some dataset."""
    setting = config["data"]["validation_size"]
    problems = []
    for dataset in dict.fromkeys([*config["datasets"], *config["compare"]["datasets"]]):
        try:
            validation_count(setting, DATASETS[dataset].counts[0])
        except DataError:
            problems.append(
                f"config key 'data.validation_size': {setting} images cannot be held out of "
                f"{dataset}'s {DATASETS[dataset].counts[0]:,} training images; choose fewer, "
                f"'auto' (one twelfth) or 0 (no validation split)")
    return problems


def _fraction_problems(config: Mapping[str, Any]) -> list[str]:
    """Training subsets too small to hold an image of each class, and fractions that name the
    same subset (the name is the dataset's identity: its files and runs)."""
    problems = []
    key = "compare.data_efficiency.fractions"
    fractions = config["compare"]["data_efficiency"]["fractions"]
    limit = config["data"]["train_limit"]
    for dataset in config["compare"]["datasets"]:
        info = DATASETS[dataset]
        # The training images left once the validation split is held out (checked before).
        train_images = info.counts[0] - validation_count(config["data"]["validation_size"],
                                                         info.counts[0])
        available = train_images if limit is None else min(limit, train_images)
        classes = len(info.classes)
        named: dict[str, int] = {}
        for i, fraction in enumerate(fractions):
            name = subset_dataset_name(dataset, fraction)
            if name in named:
                problems.append(
                    f"config key '{key}[{i}]': {fraction!r} names the same training subset "
                    f"({name}) as {key}[{named[name]}]; remove one of them")
            named.setdefault(name, i)
            size = round(fraction * available)
            if size < classes:
                problems.append(
                    f"config key '{key}[{i}]': {fraction!r} of {dataset}'s {available} training "
                    f"images is {size}, fewer than one per class ({classes} classes); use a "
                    f"fraction of at least {_at_least((classes - 0.5) / available)}")
    return problems


def _attribution_problems(config: Mapping[str, Any]) -> list[str]:
    """An occlusion window larger than the images it slides over, or a stride that skips
    pixels (some would never be occluded and get no attribution)."""
    settings = config["attribution"]
    window, stride = settings["occlusion_window"], settings["occlusion_stride"]
    problems = []
    side = min((min(DATASETS[d].input_shape[1:]) for d in config["datasets"]), default=None)
    if side is not None and window > side:
        problems.append(f"config key 'attribution.occlusion_window': {window} pixels is larger "
                        f"than the {side}-pixel images; choose at most {side}")
    if stride > window:
        problems.append(f"config key 'attribution.occlusion_stride': {stride} pixels is larger "
                        f"than the window ({window}), so pixels between two windows would never "
                        f"be occluded; choose at most {window}")
    return problems


# Unicode ranges that the PDF's font covers in full (DejaVu Sans: the stylesheet's first choice
# and, on the machines this runs on, the only family installed); any other character would print
# as an empty box. A test checks these ranges against the installed font.
TITLE_SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "Latin": ((0x20, 0x7E), (0xA0, 0x24F), (0x1E00, 0x1EFB)),
    "Greek": ((0x370, 0x37E), (0x384, 0x3FF), (0x1F00, 0x1FFE)),
    "Cyrillic": ((0x400, 0x4FF),),
}
TITLE_MARKS = ((0x300, 0x34F), (0x2010, 0x205E), (0x2070, 0x209C), (0x20A0, 0x20B5), (0x2190, 0x22FF))


def _title_problems(title: str) -> list[str]:
    """Characters of the title that the PDF's font cannot draw."""
    spans = [span for group in TITLE_SCRIPTS.values() for span in group] + list(TITLE_MARKS)
    missing = list(dict.fromkeys(c for c in title if not any(lo <= ord(c) <= hi for lo, hi in spans)))
    if not missing:
        return []
    shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    *first, last = TITLE_SCRIPTS
    return [f"config key 'title': the PDF's font (DejaVu Sans) cannot draw {shown}{more}; write "
            f"the title on one line in {', '.join(first)} or {last} script (transliterate other "
            f"scripts; accents, punctuation, arrows and maths symbols are fine)"]


def compared_by_default(config: Mapping[str, Any],
                        model_shapes: Mapping[str, tuple[int, ...]] | None,
                        dataset_shapes: Mapping[str, tuple[int, ...]] | None) -> list[str]:
    """The default of ``compare.datasets``: every configured dataset whose images all the
    compared architectures take (all configured datasets when shapes are not given).

    A config that names only Fashion-MNIST compares on Fashion-MNIST, not on an MNIST it never
    asked for.
    """
    datasets = [d for d in config.get("datasets") or {} if isinstance(d, str)]
    compare = config["compare"]
    if model_shapes is None or dataset_shapes is None:
        return datasets
    archs = [*compare.get("architectures", []), *compare.get("permutation", {}).get("architectures", []),
             *compare.get("data_efficiency", {}).get("architectures", [])]
    return [d for d in datasets if d in dataset_shapes and all(
        a in model_shapes and tuple(model_shapes[a]) == tuple(dataset_shapes[d]) for a in archs)]


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
    given_compare = config.get("compare")
    if isinstance(filled.get("compare"), dict) and not (
            isinstance(given_compare, Mapping) and "datasets" in given_compare):
        filled["compare"]["datasets"] = compared_by_default(filled, model_shapes, dataset_shapes)
    non_finite = dict(_non_finite(filled))
    for path, value in non_finite.items():
        problems.append(f"config key '{_dotted(path)}': {value} is not a finite number; "
                        f"write a finite one (YAML's .nan and .inf are not settings)")
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(filled), key=lambda e: list(map(str, e.absolute_path))):
        if tuple(error.absolute_path) not in non_finite:  # said once, above
            problems.append(_explain(error, schema))
    if isinstance(filled.get("title"), str):
        problems += _title_problems(filled["title"])
    if not problems:
        problems += _validation_problems(filled)
    if not problems:
        problems += _fraction_problems(filled)
        problems += _attribution_problems(filled)
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
            f"{NOTHING_DONE}:\n{lines}"
        )
    return resolve_seeds(filled)


def resolve_seeds(config: dict[str, Any]) -> dict[str, Any]:
    """Write out every architecture's training seeds: its own ``seeds``, else the top-level
    ``seeds``, else ``[seed]``. Rules and steps then read one list per architecture."""
    # int(): YAML reads 2.0 as a float, which JSON Schema counts as the integer 2.
    config["seeds"] = [int(seed) for seed in config["seeds"] or [config["seed"]]]
    for settings in config["training"].values():
        settings["seeds"] = [int(seed) for seed in settings["seeds"] or config["seeds"]]
    return config

