"""Adapter of rule explain_decisions: attribution maps of one convolutional model and their
sanity checks."""

from cnnlab.steps.explain import explain_decisions
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    explain_decisions(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        threads=snakemake.threads,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        train_record_path=snakemake.input.train,
        mosaic_path=snakemake.output.mosaic,
        checks_path=snakemake.output.checks,
        checks_png_path=snakemake.output.checks_plot,
        randomisation_path=snakemake.output.randomisation,
        seed=snakemake.params.seed,
        batch_size=snakemake.params.batch_size,
        **snakemake.params.attribution,
    )
