"""Figure and table numbers in the order the page shows them, and references to them from
anywhere in the page, the Findings chapter at its top included.

The page is rendered twice with one :class:`Numbering`: the first pass numbers every figure and
table as it meets them, and references read "?"; the second pass meets the same items in the
same order and every reference reads its number. The HTML and the PDF share the numbers.
"""

from __future__ import annotations

import re

from markupsafe import Markup

LABELS = {"figure": "Figure", "table": "Table"}


def element_id(kind: str, key: str) -> str:
    """The HTML id of a numbered item: ``figure-mnist-digitcnn-weights-png``."""
    return f"{kind}-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


class Numbering:
    """Numbers per kind (figure, table), keyed by what the item shows (a figure's file)."""

    def __init__(self) -> None:
        self._numbers: dict[str, dict[str, int]] = {kind: {} for kind in LABELS}
        self._final: dict[str, dict[str, int]] | None = None
        self._ids: dict[str, str] = {}

    def next_pass(self) -> None:
        """Keep the numbers of the pass just rendered for the references, and start again."""
        self._final = self._numbers
        self._numbers = {kind: {} for kind in LABELS}
        self._ids = {}

    def number(self, kind: str, key: str) -> int:
        """Number the next ``kind`` item (the same key twice is a mistake in a template)."""
        numbered = self._numbers[kind]
        if key in numbered:
            raise ValueError(f"{LABELS[kind].lower()} {key!r} appears twice in the report")
        identifier = element_id(kind, key)
        if self._ids.setdefault(identifier, key) != key:
            raise ValueError(f"{key!r} and {self._ids[identifier]!r} would share the id {identifier}")
        numbered[key] = len(numbered) + 1
        if self._final is not None and self._final[kind].get(key) != numbered[key]:
            raise ValueError(f"{LABELS[kind].lower()} {key!r} moved between the two passes")
        return numbered[key]

    def label(self, kind: str, key: str) -> Markup:
        """``<span class="label">Table 3.</span>`` for the caption of an item just numbered."""
        return Markup('<span class="label">{} {}.</span>').format(LABELS[kind],
                                                                 self._numbers[kind][key])

    def ref(self, kind: str, key: str) -> Markup:
        """A link to a numbered item, ``Figure 12``; "?" in the first pass."""
        if self._final is None:
            return Markup(f"{LABELS[kind]} ?")
        if key not in self._final[kind]:
            raise KeyError(f"the report refers to {LABELS[kind].lower()} {key!r}, which it does "
                           "not show")
        return Markup('<a class="ref" href="#{}">{} {}</a>').format(
            element_id(kind, key), LABELS[kind], self._final[kind][key])

    def anchor(self, kind: str, key: str) -> str:
        return element_id(kind, key)

    def shown(self, kind: str, key: str) -> bool:
        """Whether the page shows the item (known in the second pass only)."""
        return self._final is not None and key in self._final[kind]
