"""Adapter of rule calibrate: reliability, ECE and temperature scaling of one trained model."""

from cnnlab.steps.calibrate import calibrate_model
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    calibrate_model(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        logits_path=snakemake.input.logits,
        train_record_path=snakemake.input.train,
        json_path=snakemake.output.json,
        png_path=snakemake.output.png,
    )
