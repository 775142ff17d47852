"""Adapter of rule measure_sparsity: zero activations and dead channels over the test split."""

from cnnlab.steps.inspect import measure_sparsity
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    measure_sparsity(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        threads=snakemake.threads,
        batch_size=snakemake.params.batch_size,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
