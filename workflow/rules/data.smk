rule prepare_data:
    wildcard_constraints:
        dataset=BASE_DATASET,
    output:
        data=data_file("data"),
        record=data_file("record"),
    params:
        # Not read by the step: it makes the rule rerun when a different source would be used.
        source=planned_data_source,
        search_path=config["data"]["search_path"],
        download=config["data"]["download"],
        verify_checksums=config["data"]["verify_checksums"],
        train_limit=config["data"]["train_limit"],
        test_limit=config["data"]["test_limit"],
        validation_size=config["data"]["validation_size"],
        seed=config["seed"],
    log:
        "results/logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/data/{dataset}/prepare_data.tsv"
    script:
        "../../scripts/prepare_data.py"


# Derived datasets of the comparison experiments: ordinary cached dataset artifacts, so their
# training runs are ordinary train jobs.
rule derive_dataset:
    wildcard_constraints:
        base=BASE_DATASET,
        derivation="permuted|subset_[0-9.]+",
    input:
        data=data_file("data", "{base}"),
        record=data_file("record", "{base}"),
    output:
        data=data_file("data", "{base}_{derivation}"),
        record=data_file("record", "{base}_{derivation}"),
    params:
        seed=derivation_seed,
    log:
        "results/logs/data/{base}_{derivation}.log",
    benchmark:
        "results/benchmarks/data/{base}_{derivation}/derive_dataset.tsv"
    script:
        "../../scripts/derive_dataset.py"


onsuccess:
    announce_sample_data()
