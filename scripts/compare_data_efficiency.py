"""Adapter of rule compare_data_efficiency: accuracy against training-set size."""

from cnnlab.steps.compare import compare_data_efficiency
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_data_efficiency(
        dataset=snakemake.wildcards.dataset,
        runs=snakemake.params.runs,
        metrics=snakemake.input.metrics,
        train=snakemake.input.train,
        predictions=snakemake.input.predictions,
        csv_path=snakemake.output.csv,
        tests_csv=snakemake.output.tests,
        png_path=snakemake.output.png,
    )
