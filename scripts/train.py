"""Adapter of rule train: train one architecture on one prepared dataset."""

from cnnlab.kept_runs import retrain_requested
from cnnlab.steps.runtime import checked_step
from cnnlab.steps.train import train_model

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    train_model(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        settings=snakemake.params.settings,
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        kept_runs_dir=snakemake.params.kept_runs_dir,
        model_path=snakemake.output.model,
        history_path=snakemake.output.history,
        train_record_path=snakemake.output.record,
        trajectory_path=snakemake.output.trajectory,
        eval_batch_size=snakemake.params.eval_batch_size,
        retrain=retrain_requested(),
    )
