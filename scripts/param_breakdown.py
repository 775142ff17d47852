"""Adapter of rule param_breakdown: per-layer shapes, parameters and mult-adds."""

from cnnlab.steps.inspect import param_breakdown
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    param_breakdown(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        record_path=snakemake.input.record,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
        flow_path=snakemake.output.flow,
    )
