"""Adapter of rule weight_changes: how far training moved each layer's weights."""

from cnnlab.steps.runtime import checked_step
from cnnlab.steps.weights import weight_changes

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    weight_changes(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        training_seed=snakemake.params.training_seed,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        trajectory_path=snakemake.input.trajectory,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
        evolution_csv_path=snakemake.output.evolution_csv,
        evolution_png_path=snakemake.output.evolution,
    )
