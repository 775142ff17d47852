rule extract_filters:
    input:
        model=run_file(TRAIN.model),
        record=data_file("record"),
    output:
        filters=report(
            run_file(FILTERS.filters),
            caption="../report/captions/filters.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        signed=run_file(FILTERS.signed),
        similarity=run_file(FILTERS.similarity),
        similarity_plot=run_file(FILTERS.similarity_plot),
        deeper=run_file(FILTERS.deeper),
    params:
        # The model's first training seed: its initial weights are drawn again from it.
        seed=training_seed,
    log:
        "results/logs/{dataset}/{arch}/extract_filters.log",
    script:
        "../../scripts/extract_filters.py"


rule extract_feature_maps:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
    output:
        maps=directory(run_file(FEATURE_MAPS.maps)),
    params:
        seed=config["seed"],
        channels=config["inspection"]["feature_map_channels"],
    log:
        "results/logs/{dataset}/{arch}/extract_feature_maps.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/extract_feature_maps.tsv"
    script:
        "../../scripts/extract_feature_maps.py"


rule measure_sparsity:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
    output:
        csv=run_file(SPARSITY.csv),
        png=report(
            run_file(SPARSITY.png),
            caption="../report/captions/sparsity.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    params:
        batch_size=config["evaluation"]["batch_size"],
    log:
        "results/logs/{dataset}/{arch}/measure_sparsity.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/measure_sparsity.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
        heavy_jobs=heavy_request,
    script:
        "../../scripts/measure_sparsity.py"


# Geometry depends on the architecture alone, not on trained weights: no model.pt needed.
rule receptive_fields:
    input:
        data=data_file("data"),
        record=data_file("record"),
    output:
        csv=run_file(RECEPTIVE_FIELD.csv),
        png=report(
            run_file(RECEPTIVE_FIELD.png),
            caption="../report/captions/receptive_field.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    params:
        seed=config["seed"],
    log:
        "results/logs/{dataset}/{arch}/receptive_fields.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/receptive_fields.tsv"
    script:
        "../../scripts/receptive_fields.py"


rule param_breakdown:
    input:
        record=data_file("record"),
    output:
        csv=run_file(PARAMS.csv),
        png=report(
            run_file(PARAMS.png),
            caption="../report/captions/params.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        flow=run_file(PARAMS.flow),
    log:
        "results/logs/{dataset}/{arch}/param_breakdown.log",
    script:
        "../../scripts/param_breakdown.py"
