"""Adapter of rule embed_representations: one model's penultimate representation."""

from cnnlab.steps.embeddings import embed_representations
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    embed_representations(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        threads=snakemake.threads,
        seed=snakemake.params.seed,
        images=snakemake.params.images,
        knn_images=snakemake.params.knn_images,
        neighbours=snakemake.params.neighbours,
        batch_size=snakemake.params.batch_size,
        npz_path=snakemake.input.data,
        record_path=snakemake.input.record,
        model_path=snakemake.input.model,
        embedding_path=snakemake.output.embedding,
        json_path=snakemake.output.json,
    )
