"""Adapter of rule prepare_data: find, verify and cache one dataset."""

import os

from cnnlab.steps.data import prepare_data
from cnnlab.steps.runtime import checked_step

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with checked_step(snakemake.log[0], snakemake.input, snakemake.output, snakemake.rule):
    prepare_data(
        snakemake.wildcards.dataset,
        project_dir=os.getcwd(),
        env_data_path=os.environ.get("CNNLAB_DATA_PATH"),
        search_path=snakemake.params.search_path,
        download=snakemake.params.download,
        verify_checksums=snakemake.params.verify_checksums,
        train_limit=snakemake.params.train_limit,
        test_limit=snakemake.params.test_limit,
        validation_size=snakemake.params.validation_size,
        seed=snakemake.params.seed,
        npz_path=snakemake.output.data,
        record_path=snakemake.output.record,
    )
