"""Checks of a schema-valid config across its keys, against the datasets it names and the
report's font: a validation split that leaves training images, training subsets that hold an
image of each class and have names of their own, an occlusion window that covers every pixel,
and a title the PDF can draw. Each returns one message per problem, naming key and fix."""

from __future__ import annotations

import math
from typing import Any, Mapping

from cnnlab.datasets.catalog import DATASETS, DataError, subset_dataset_name, validation_count


def _at_least(value: float) -> str:
    """``value`` rounded up to two significant digits, as text."""
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return f"{math.ceil(value / step) * step:.2g}"


def validation_problems(config: Mapping[str, Any]) -> list[str]:
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


def fraction_problems(config: Mapping[str, Any]) -> list[str]:
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


def attribution_problems(config: Mapping[str, Any]) -> list[str]:
    """An occlusion window larger than the images it slides over, or a stride that leaves
    pixels no window covers (between two windows, or after the last one): those pixels would
    get no attribution at all."""
    settings = config["attribution"]
    window, stride = settings["occlusion_window"], settings["occlusion_stride"]
    key = "config key 'attribution.occlusion"
    if stride > window:
        return [f"{key}_stride': {stride} pixels is larger than the window ({window}), so pixels "
                f"between two windows would never be occluded; choose at most {window}"]
    problems = []
    for side in sorted({DATASETS[d].input_shape[-1] for d in config["datasets"]}
                       | {DATASETS[d].input_shape[-2] for d in config["datasets"]}):
        if window > side:
            problems.append(f"{key}_window': {window} pixels is larger than the {side}-pixel "
                            f"images; choose at most {side}")
        elif (side - window) % stride:
            fitting = [s for s in range(1, window + 1) if (side - window) % s == 0]
            problems.append(
                f"{key}_stride': a {window}-pixel window moved {stride} pixels at a time never "
                f"reaches the last {(side - window) % stride} pixel(s) of the {side}-pixel images; "
                f"choose a stride of {', '.join(map(str, fitting))} (or another window)")
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


def title_problems(title: str) -> list[str]:
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
