"""Adapter of rule compare_data_efficiency: accuracy against training-set size."""

from cnnlab.steps.compare import compare_data_efficiency
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_data_efficiency(
        dataset=snakemake.wildcards.dataset,
        runs=[
            (arch, fraction, metrics, train)
            for (arch, fraction), metrics, train in zip(
                snakemake.params.runs, snakemake.input.metrics, snakemake.input.train, strict=True
            )
        ],
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
