# Light jobs (no torch, no model) that work from the files a run's train job wrote when it
# scored the run.

# The test images a run got wrong most confidently, from the predictions its train job wrote:
# changing evaluation.misclassified reruns only this and the report.
rule plot_misclassified:
    input:
        data=data_file("data"),
        record=data_file("record"),
        train=run_file(TRAIN.record),
        predictions=run_file(EVALUATE.predictions),
    output:
        misclassified=report(
            run_file(EVALUATE.misclassified),
            caption="../report/captions/misclassified.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    params:
        misclassified=config["evaluation"]["misclassified"],
    log:
        "results/logs/{dataset}/{arch}/plot_misclassified.log",
    script:
        "../../scripts/plot_misclassified.py"


use rule plot_misclassified as plot_misclassified_seed with:
    input:
        data=data_file("data"),
        record=data_file("record"),
        train=run_file(TRAIN.record, seed="{seed}"),
        predictions=run_file(EVALUATE.predictions, seed="{seed}"),
    output:
        misclassified=run_file(EVALUATE.misclassified, seed="{seed}"),
    log:
        "results/logs/{dataset}/{arch}/seed_{seed}/plot_misclassified.log",


# Whether a model's confidence means anything, from the logits its train job saved: a light job
# (no torch, no model, no images).
rule calibrate:
    input:
        train=run_file(TRAIN.record),
        logits=run_file(EVALUATE.logits),
    output:
        json=run_file(CALIBRATION.json),
        png=report(
            run_file(CALIBRATION.png),
            caption="../report/captions/reliability.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    log:
        "results/logs/{dataset}/{arch}/calibrate.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/calibrate.tsv"
    script:
        "../../scripts/calibrate.py"
