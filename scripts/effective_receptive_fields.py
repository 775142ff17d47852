"""Adapter of rule effective_receptive_fields: each convolution's ERF, at init and trained."""

from cnnlab.steps.runtime import checked_step
from cnnlab.steps.units import effective_receptive_fields

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    effective_receptive_fields(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        threads=snakemake.threads,
        seed=snakemake.params.seed,
        training_seed=snakemake.params.training_seed,
        images=snakemake.params.images,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
