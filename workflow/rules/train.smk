rule train:
    input:
        data="results/data/{dataset}.npz",
        record="results/data/{dataset}.json",
    output:
        model="results/{dataset}/{arch}/model.pt",
        history="results/{dataset}/{arch}/history.csv",
        record="results/{dataset}/{arch}/train.json",
    params:
        settings=training_settings,
        seed=config["seed"],
        eval_batch_size=config["evaluation"]["batch_size"],
        # Outside the declared outputs, so Snakemake never deletes a checkpoint it could resume.
        checkpoint_dir="results/checkpoints/{dataset}/{arch}",
        # Each finished run is also kept under a name derived from its settings, seed, data and
        # code: a rerun with new settings that fails cannot lose the model of the old ones.
        kept_runs_dir="results/runs/{dataset}/{arch}",
    log:
        "results/logs/{dataset}/{arch}/train.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/train.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
    script:
        "../../scripts/train.py"
