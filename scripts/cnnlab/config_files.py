"""Config files read strictly, before Snakemake reads them: Snakemake keeps the last of a key
given twice (dropping a whole block of settings without a word) and names neither the file nor
the line of a YAML mistake."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from cnnlab.config import NOTHING_DONE, ConfigError


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a mapping key given twice is an error: PyYAML (and so
    Snakemake) keeps the last one silently, dropping a whole block of settings."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):  # PyYAML's own error says why
                continue
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"key {key!r} is given twice (first on line {first_line[key]}); YAML keeps "
                    f"only the last, so merge the two into one", key_node.start_mark)
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config_file(path: Path | str) -> Any:
    """Read a YAML (or JSON) config file strictly, or raise :class:`ConfigError` naming the
    file and line of a syntax error or of a key given twice."""
    try:
        with open(path, encoding="utf-8") as stream:
            return yaml.load(stream, Loader=StrictLoader)
    except yaml.MarkedYAMLError as error:
        mark, start = error.problem_mark, error.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = error.problem or ""
        if error.context:
            problem += f" ({error.context}{f' on line {start.line + 1}' if start else ''})"
        fix = "" if isinstance(error, yaml.constructor.ConstructorError) else (
            "; fix the YAML there (settings are `key: value`, nested by indenting with spaces; "
            "lists are [a, b]; brackets and quotes must close)")
        raise ConfigError(f"config file {where}: {problem}{fix}; {NOTHING_DONE}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path}: {error}; {NOTHING_DONE}") from None
