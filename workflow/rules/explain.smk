# Why a model decides as it does, and whether its confidence means anything.
rule calibrate:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
        train=run_file(TRAIN.record),
    output:
        json=run_file(CALIBRATION.json),
        png=report(
            run_file(CALIBRATION.png),
            caption="../report/captions/reliability.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    params:
        batch_size=config["evaluation"]["batch_size"],
    log:
        "results/logs/{dataset}/{arch}/calibrate.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/calibrate.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
    script:
        "../../scripts/calibrate.py"
