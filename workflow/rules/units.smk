# What the units of a convolutional model respond to.
rule effective_receptive_fields:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
    output:
        csv=run_file(EFFECTIVE_FIELD.csv),
        png=report(
            run_file(EFFECTIVE_FIELD.png),
            caption="../report/captions/effective_field.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    params:
        seed=config["seed"],
        # The model's first training seed: its initial weights are drawn again from it.
        training_seed=training_seed,
        images=config["units"]["images"],
    log:
        "results/logs/{dataset}/{arch}/effective_receptive_fields.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/effective_receptive_fields.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
    script:
        "../../scripts/effective_receptive_fields.py"
