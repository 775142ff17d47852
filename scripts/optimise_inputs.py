"""Adapter of rule optimise_inputs: each early channel's optimal input."""

from cnnlab.steps.runtime import checked_step
from cnnlab.steps.units import optimal_inputs

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    optimal_inputs(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        threads=snakemake.threads,
        seed=snakemake.params.seed,
        steps=snakemake.params.steps,
        total_variation=snakemake.params.total_variation,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        json_path=snakemake.output.json,
        png_path=snakemake.output.png,
    )
