"""Adapter of rule receptive_fields: analytic and measured receptive-field table and figure."""

from cnnlab.steps.inspect import receptive_fields
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    receptive_fields(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        seed=snakemake.params.seed,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
