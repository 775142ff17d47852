"""Adapter of rule compare_embeddings: the models' representations side by side."""

from cnnlab.io import read_json
from cnnlab.steps.embeddings import compare_embeddings
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    compare_embeddings(
        dataset=snakemake.wildcards.dataset,
        archs=snakemake.params.archs,
        embedding_paths=snakemake.input.embeddings,
        json_paths=snakemake.input.records,
        classes=read_json(snakemake.input.record)["classes"],
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
    )
