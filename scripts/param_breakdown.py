"""Adapter of rule param_breakdown: per-layer shapes, parameters and mult-adds."""

import json

from cnnlab.inspection import param_breakdown
from cnnlab.runs import logging_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script directive)

with logging_to(snakemake.log[0]):
    with open(snakemake.input.record) as handle:
        num_classes = len(json.load(handle)["classes"])
    param_breakdown(
        dataset=snakemake.wildcards.dataset,
        arch=snakemake.wildcards.arch,
        num_classes=num_classes,
        csv_path=snakemake.output.csv,
        png_path=snakemake.output.png,
        flow_path=snakemake.output.flow,
    )
