"""Adapter of rule plot_misclassified: a run's most confidently misclassified test images."""

from cnnlab.steps.evaluate import plot_misclassified_images
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    plot_misclassified_images(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        train_record_path=snakemake.input.train,
        predictions_path=snakemake.input.predictions,
        misclassified_path=snakemake.output.misclassified,
        misclassified=snakemake.params.misclassified,
    )
