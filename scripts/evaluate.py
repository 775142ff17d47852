"""Adapter of rule evaluate: test-set metrics, confusion matrix, misclassified examples."""

from cnnlab.steps.evaluate import evaluate_model
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    evaluate_model(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        threads=snakemake.threads,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        train_record_path=snakemake.input.train,
        metrics_path=snakemake.output.metrics,
        predictions_path=snakemake.output.predictions,
        confusion_path=snakemake.output.confusion,
        misclassified_path=snakemake.output.misclassified,
        history_path=snakemake.input.history,
        curves_path=snakemake.output.curves,
        batch_size=snakemake.params.batch_size,
        misclassified=snakemake.params.misclassified,
    )
