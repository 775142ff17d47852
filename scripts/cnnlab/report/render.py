"""Rendering: jinja2 templates (StrictUndefined, autoescape) to HTML, and WeasyPrint to a
paginated PDF through a fetcher that may read only the report's own files."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import jinja2

from cnnlab.analysis.certainty import describe_p
from cnnlab.io import atomic_write_bytes, atomic_write_text
from cnnlab.report.findings import percent, plus_minus
from cnnlab.report.numbering import Numbering


def environment(template_dir: Path, numbering: Numbering | None = None) -> jinja2.Environment:
    """Jinja2 with StrictUndefined (a missing value is an error) and autoescape everywhere;
    ``numbers`` numbers the figures and tables (a fresh :class:`Numbering` by default)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: NOT_MEASURED if _is_nan(v) else percent(v)
    env.filters["thousands"] = lambda v: f"{int(v):,}"
    env.filters["signed"] = lambda v, digits=2: f"{float(v):+.{digits}f}"
    env.filters["p_value"] = describe_p
    # mean ± half the interval's width: {{ row.test_accuracy | pm(row.accuracy_low, row.accuracy_high) }}
    env.filters["pm"] = lambda v, low, high, unit="%": plus_minus(v, low, high, unit)
    env.filters["fixed"] = lambda v, digits=2: NOT_MEASURED if _is_nan(v) else f"{float(v):.{digits}f}"
    env.globals["numbers"] = numbering or Numbering()
    return env


# A number that was not measured (no validation split: nan in the history) reads as a dash.
NOT_MEASURED = "\u2013"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def render_html(context: Mapping[str, Any], template_dir: Path, css_path: Path,
                script_path: Path, out_html: Path, *, for_print: bool = False) -> str:
    """Render the report page; the stylesheet and the script are inlined so the page needs no
    other file than its figures."""
    numbering = Numbering()
    env = environment(template_dir, numbering)
    template = env.get_template("report.html.j2")
    values = {**context, "css": css_path.read_text(), "script": script_path.read_text(),
              "for_print": for_print}
    template.render(**values)  # numbers every figure and table, for references met before them
    numbering.next_pass()
    html = template.render(**values)
    atomic_write_text(out_html, html)
    return html


def restricted_fetcher(allowed: Sequence[Path]) -> Any:
    """WeasyPrint's URL fetcher, limited to existing files under the ``allowed`` folders.

    Anything else (the network, /etc, a missing figure) raises FatalURLFetchingError, which
    stops the rendering instead of leaving a hole in the PDF.
    """
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    roots = [Path(p).resolve() for p in allowed]
    where = ", ".join(map(str, roots))

    class Fetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            parsed = urlparse(url)
            if parsed.scheme != "file":
                raise FatalURLFetchingError(
                    f"refusing {url}: the report may only read local files under {where}")
            path = Path(url2pathname(unquote(parsed.path))).resolve()
            if not any(path.is_relative_to(root) for root in roots):
                raise FatalURLFetchingError(f"refusing {path}: outside the allowed folders {where}")
            if not path.is_file():
                raise FatalURLFetchingError(f"missing file {path}: rerun the rule that makes it")
            return super().fetch(url, headers)

    return Fetcher(fail_on_errors=True, allowed_protocols={"file"})


def render_pdf(html_path: Path, pdf_path: Path, allowed: Sequence[Path], epoch: int) -> None:
    """Render ``html_path`` to PDF, dated ``epoch`` (the run's last artifact, in seconds)."""
    from weasyprint import HTML

    document = HTML(filename=str(html_path), url_fetcher=restricted_fetcher(allowed)).render()
    # The run's date, not the rendering's: the same artifacts give the same PDF.
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    document.metadata.created = document.metadata.modified = stamp
    with source_date_epoch(epoch):
        content = document.write_pdf(uncompressed_pdf=False)
    atomic_write_bytes(pdf_path, content)


@contextlib.contextmanager
def source_date_epoch(epoch: int) -> Iterator[None]:
    """SOURCE_DATE_EPOCH set while the block runs, and restored after it.

    fontTools stamps each subset font with the time it reads from there (else the clock), and
    WeasyPrint embeds those fonts: without it no two renderings of one report are the same bytes.
    """
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        yield
    finally:
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before
