"""Adapter of rule compare_training_dynamics: the compared models' curves overlaid."""

from cnnlab.steps.compare import compare_training_dynamics
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_training_dynamics(
        dataset=snakemake.wildcards.dataset,
        runs=snakemake.params.runs,
        histories=snakemake.input.histories,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
