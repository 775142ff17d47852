# One job per training run trains the model (or restores its kept copy) and then scores it on
# the test split: one process start instead of two, so torch, scipy and matplotlib are imported
# once per run. The misclassified images are drawn by rule plot_misclassified, so that changing
# how many to show reruns neither this job nor the analyses of its model.
rule train:
    input:
        data=data_file("data"),
        record=data_file("record"),
    output:
        model=run_file(TRAIN.model),
        history=run_file(TRAIN.history),
        record=run_file(TRAIN.record),
        trajectory=run_file(TRAIN.trajectory),
        metrics=run_file(EVALUATE.metrics),
        predictions=run_file(EVALUATE.predictions),
        logits=run_file(EVALUATE.logits),
        confusion=report(
            run_file(EVALUATE.confusion),
            caption="../report/captions/confusion.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        curves=report(
            run_file(EVALUATE.curves),
            caption="../report/captions/curves.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
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
    priority: PRIORITY["training"]
    resources:
        gpu=gpu_request,
        heavy_jobs=heavy_request,
    script:
        "../../scripts/train.py"


# Every seed of an architecture after its first: the same job, in results/{dataset}/{arch}/seed_{seed}/.
use rule train as train_seed with:
    output:
        model=run_file(TRAIN.model, seed="{seed}"),
        history=run_file(TRAIN.history, seed="{seed}"),
        record=run_file(TRAIN.record, seed="{seed}"),
        trajectory=run_file(TRAIN.trajectory, seed="{seed}"),
        metrics=run_file(EVALUATE.metrics, seed="{seed}"),
        predictions=run_file(EVALUATE.predictions, seed="{seed}"),
        logits=run_file(EVALUATE.logits, seed="{seed}"),
        confusion=run_file(EVALUATE.confusion, seed="{seed}"),
        curves=run_file(EVALUATE.curves, seed="{seed}"),
    log:
        "results/logs/{dataset}/{arch}/seed_{seed}/train.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/seed_{seed}/train.tsv"
