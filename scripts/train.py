"""Adapter of rule train: train one architecture on one prepared dataset."""

from cnnlab.runs import logging_to, train_model

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with logging_to(snakemake.log[0]):
    train_model(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        settings=snakemake.params.settings,
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        model_path=snakemake.output.model,
        history_path=snakemake.output.history,
        train_record_path=snakemake.output.record,
        eval_batch_size=snakemake.params.eval_batch_size,
    )
