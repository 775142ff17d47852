"""Adapter of rule extract_filters: first-layer kernels, operator similarity, deeper kernels."""

from cnnlab.steps.inspect import extract_filters
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    extract_filters(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        seed=snakemake.params.seed,
        model_path=snakemake.input.model,
        record_path=snakemake.input.record,
        filters_path=snakemake.output.filters,
        signed_path=snakemake.output.signed,
        similarity_csv=snakemake.output.similarity,
        similarity_png=snakemake.output.similarity_plot,
        deeper_path=snakemake.output.deeper,
    )
