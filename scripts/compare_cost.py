"""Adapter of rule compare_cost: accuracy against parameters, mult-adds and time."""

from cnnlab.steps.compare import compare_cost
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_cost(
        dataset=snakemake.wildcards.dataset,
        runs=snakemake.params.runs,
        archs=snakemake.params.archs,
        metrics=snakemake.input.metrics,
        train=snakemake.input.train,
        params=snakemake.input.params,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
