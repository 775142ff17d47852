"""Adapter of rule extract_feature_maps: one figure per convolution / block."""

from cnnlab.steps.inspect import extract_feature_maps
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    extract_feature_maps(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        seed=snakemake.params.seed,
        channels=snakemake.params.channels,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        out_dir=snakemake.output.maps,
    )
