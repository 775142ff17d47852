rule evaluate:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
        train=run_file(TRAIN.record),
        history=run_file(TRAIN.history),
    output:
        metrics=run_file(EVALUATE.metrics),
        predictions=run_file(EVALUATE.predictions),
        confusion=report(
            run_file(EVALUATE.confusion),
            caption="../report/captions/confusion.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        misclassified=report(
            run_file(EVALUATE.misclassified),
            caption="../report/captions/misclassified.rst",
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
        batch_size=config["evaluation"]["batch_size"],
        misclassified=config["evaluation"]["misclassified"],
    log:
        "results/logs/{dataset}/{arch}/evaluate.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/evaluate.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
        heavy_jobs=1,
    script:
        "../../scripts/evaluate.py"


use rule evaluate as evaluate_seed with:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model, seed="{seed}"),
        train=run_file(TRAIN.record, seed="{seed}"),
        history=run_file(TRAIN.history, seed="{seed}"),
    output:
        metrics=run_file(EVALUATE.metrics, seed="{seed}"),
        predictions=run_file(EVALUATE.predictions, seed="{seed}"),
        confusion=run_file(EVALUATE.confusion, seed="{seed}"),
        misclassified=run_file(EVALUATE.misclassified, seed="{seed}"),
        curves=run_file(EVALUATE.curves, seed="{seed}"),
    log:
        "results/logs/{dataset}/{arch}/seed_{seed}/evaluate.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/seed_{seed}/evaluate.tsv"
