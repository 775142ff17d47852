"""Adapter of rule render_report: the HTML report and its PDF."""

import os
from pathlib import Path

from cnnlab.steps.report import render_report
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    render_report(
        results="results",
        report_dir=Path(snakemake.output.html).parent,
        project=os.getcwd(),
        template_dir=Path(snakemake.input.templates[0]).parent,
        css_path=snakemake.input.css,
        script_path=snakemake.input.script,
        config=snakemake.params.config,
        runs=[tuple(pair) for pair in snakemake.params.runs],
        compare_datasets=snakemake.params.compare_datasets,
        benchmarks=snakemake.params.benchmarks,
        html_path=snakemake.output.html,
        pdf_path=snakemake.output.pdf,
    )
