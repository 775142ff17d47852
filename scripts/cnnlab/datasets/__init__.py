"""Datasets: the catalogue (:mod:`.catalog`), their file formats (:mod:`.formats`), where they
come from (:mod:`.sources`), the prepared artifact (:mod:`.prepared`) and the datasets derived
from it (:mod:`.derived`). Importing this package does not import torch."""

from cnnlab.datasets.catalog import (
    DATASETS,
    DataError,
    DatasetInfo,
    dataset_info,
    fraction_text,
    split_dataset_name,
    subset_dataset_name,
)
from cnnlab.datasets.derived import permuted_dataset, subset_dataset, subset_epochs
from cnnlab.datasets.formats import RawDataset, Split, load_folder, parse_idx
from cnnlab.datasets.prepared import (
    PreparedData,
    balanced_subset,
    channel_stats,
    load_prepared,
    prepare_dataset,
    save_prepared,
    seeded_sample,
)
from cnnlab.datasets.sources import SAMPLE_NOTICE, acquire_dataset, data_search_path, locate_dataset

__all__ = [
    "DATASETS", "SAMPLE_NOTICE", "DataError", "DatasetInfo", "PreparedData", "RawDataset", "Split",
    "acquire_dataset", "balanced_subset", "channel_stats", "data_search_path", "dataset_info",
    "load_folder", "load_prepared", "locate_dataset", "parse_idx", "permuted_dataset",
    "prepare_dataset", "save_prepared", "seeded_sample", "split_dataset_name", "subset_dataset",
    "subset_dataset_name", "subset_epochs", "fraction_text",
]
