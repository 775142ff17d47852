"""Adapter of rule compare_dense_equivalent: what weight sharing saves."""

from cnnlab.steps.compare_models import compare_dense_equivalent
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_dense_equivalent(
        dataset=snakemake.wildcards.dataset,
        archs=snakemake.params.archs,
        csv_path=snakemake.output.csv,
        thought_csv=snakemake.output.thought,
        png_path=snakemake.output.png,
    )
