"""Adapter of rule train: train one architecture on one prepared dataset (or restore its kept
run), then score it on the test split in the same process."""

from cnnlab.kept_runs import retrain_requested
from cnnlab.steps.runtime import checked_step
from cnnlab.steps.train import evaluate_model, train_model

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)
run = dict(dataset=snakemake.wildcards.dataset, arch=snakemake.wildcards.arch,
           threads=snakemake.threads, npz_path=snakemake.input.data,
           record_path=snakemake.input.record, model_path=snakemake.output.model,
           history_path=snakemake.output.history, train_record_path=snakemake.output.record)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    train_model(**run, settings=snakemake.params.settings, seed=snakemake.params.seed,
                checkpoint_dir=snakemake.params.checkpoint_dir,
                kept_runs_dir=snakemake.params.kept_runs_dir,
                trajectory_path=snakemake.output.trajectory,
                eval_batch_size=snakemake.params.eval_batch_size, retrain=retrain_requested())
    evaluate_model(**run, metrics_path=snakemake.output.metrics,
                   predictions_path=snakemake.output.predictions,
                   logits_path=snakemake.output.logits,
                   confusion_path=snakemake.output.confusion,
                   curves_path=snakemake.output.curves,
                   batch_size=snakemake.params.eval_batch_size)
