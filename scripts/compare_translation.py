"""Adapter of rule compare_translation: accuracy on shifted test images."""

from cnnlab.steps.compare_models import compare_translation
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_translation(
        dataset=snakemake.wildcards.dataset,
        runs=snakemake.params.runs,
        models=snakemake.input.models,
        train_records=snakemake.input.train,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        max_shift=snakemake.params.max_shift,
        batch_size=snakemake.params.batch_size,
        threads=snakemake.threads,
        csv_path=snakemake.output.csv,
        tests_csv=snakemake.output.tests,
        png_path=snakemake.output.png,
    )
