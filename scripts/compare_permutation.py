"""Adapter of rule compare_permutation: plain against pixel-permuted training."""

from cnnlab.steps.compare import compare_permutation
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_permutation(
        dataset=snakemake.wildcards.dataset,
        runs=snakemake.params.runs,
        original=snakemake.input.original,
        permuted=snakemake.input.permuted,
        original_predictions=snakemake.input.original_predictions,
        permuted_predictions=snakemake.input.permuted_predictions,
        permuted_record=snakemake.input.record,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
