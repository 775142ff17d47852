rule train:
    input:
        data=data_file("data"),
        record=data_file("record"),
    output:
        model=run_file(TRAIN.model),
        history=run_file(TRAIN.history),
        record=run_file(TRAIN.record),
        trajectory=run_file(TRAIN.trajectory),
    params:
        settings=training_settings,
        seed=training_seed,
        eval_batch_size=config["evaluation"]["batch_size"],
        # Outside the declared outputs, so Snakemake never deletes a checkpoint it could resume.
        checkpoint_dir=checkpoint_dir(),
        # Each finished run is also kept under a name derived from its settings, seed, data and
        # code: a rerun with new settings that fails cannot lose the model of the old ones.
        kept_runs_dir=kept_runs_dir(),
    log:
        "results/logs/{dataset}/{arch}/train.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/train.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
        heavy_jobs=1,
    script:
        "../../scripts/train.py"


# Every seed of an architecture after its first: the same job, in results/{dataset}/{arch}/seed_{seed}/.
use rule train as train_seed with:
    output:
        model=run_file(TRAIN.model, seed="{seed}"),
        history=run_file(TRAIN.history, seed="{seed}"),
        record=run_file(TRAIN.record, seed="{seed}"),
        trajectory=run_file(TRAIN.trajectory, seed="{seed}"),
    log:
        "results/logs/{dataset}/{arch}/seed_{seed}/train.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/seed_{seed}/train.tsv"
