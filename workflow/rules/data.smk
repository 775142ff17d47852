rule prepare_data:
    wildcard_constraints:
        dataset=BASE_DATASET,
    output:
        data="results/data/{dataset}.npz",
        record="results/data/{dataset}.json",
    params:
        search_path=config["data"]["search_path"],
        download=config["data"]["download"],
        verify_checksums=config["data"]["verify_checksums"],
        train_limit=config["data"]["train_limit"],
        test_limit=config["data"]["test_limit"],
        seed=config["seed"],
    log:
        "results/logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/data/{dataset}.tsv"
    script:
        "../../scripts/prepare_data.py"


# Derived datasets of the comparison experiments: ordinary cached dataset artifacts, so their
# training runs are ordinary train and evaluate jobs.
rule derive_dataset:
    wildcard_constraints:
        base=BASE_DATASET,
        derivation="permuted|subset_[0-9.]+",
    input:
        data="results/data/{base}.npz",
        record="results/data/{base}.json",
    output:
        data="results/data/{base}_{derivation}.npz",
        record="results/data/{base}_{derivation}.json",
    params:
        seed=derivation_seed,
    log:
        "results/logs/data/{base}_{derivation}.log",
    benchmark:
        "results/benchmarks/data/{base}_{derivation}.tsv"
    script:
        "../../scripts/derive_dataset.py"
