# Which pixels drive each decision, and whether the maps pass their sanity checks.
rule explain_decisions:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
        train=run_file(TRAIN.record),
    output:
        mosaic=report(
            run_file(ATTRIBUTION.mosaic),
            caption="../report/captions/attribution.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        checks=run_file(ATTRIBUTION.checks),
        checks_plot=report(
            run_file(ATTRIBUTION.checks_plot),
            caption="../report/captions/attribution_checks.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        randomisation=run_file(ATTRIBUTION.randomisation),
    params:
        seed=config["seed"],
        batch_size=config["evaluation"]["batch_size"],
        attribution=config["attribution"],
    log:
        "results/logs/{dataset}/{arch}/explain_decisions.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/explain_decisions.tsv"
    threads: HEAVY_THREADS
    priority: PRIORITY["attribution"]
    resources:
        gpu=gpu_request,
        heavy_jobs=heavy_request,
    script:
        "../../scripts/explain_decisions.py"
