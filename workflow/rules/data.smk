rule prepare_data:
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
