"""Adapter of rule derive_dataset: a pixel-permuted or subset copy of a prepared dataset."""

from cnnlab.steps.data import derive_dataset
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    derive_dataset(
        name=f"{snakemake.wildcards.base}_{snakemake.wildcards.derivation}",
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        seed=snakemake.params.seed,
        out_npz=snakemake.output.data,
        out_record=snakemake.output.record,
    )
