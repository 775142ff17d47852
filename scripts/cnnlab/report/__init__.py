"""The report: its context read from the artifacts (:mod:`.context`), its claims with their
evidence (:mod:`.findings`), and its HTML and PDF (:mod:`.render`)."""

from cnnlab.report.context import ReportError, collect_context, git_commit
from cnnlab.report.findings import findings
from cnnlab.report.render import environment, render_html, render_pdf, restricted_fetcher

__all__ = ["ReportError", "collect_context", "environment", "findings", "git_commit",
           "render_html", "render_pdf", "restricted_fetcher"]
