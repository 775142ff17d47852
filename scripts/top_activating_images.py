"""Adapter of rule top_activating_images: the test images each channel responds to most."""

from cnnlab.steps.runtime import checked_step
from cnnlab.steps.units import top_activating_images

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    top_activating_images(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        threads=snakemake.threads,
        channels=snakemake.params.channels,
        batch_size=snakemake.params.batch_size,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        folder=snakemake.output.images,
    )
