rule extract_filters:
    input:
        model="results/{dataset}/{arch}/model.pt",
        record="results/data/{dataset}.json",
    output:
        filters=report(
            "results/{dataset}/{arch}/filters.png",
            caption="../report/captions/filters.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        signed="results/{dataset}/{arch}/filters_signed.png",
        similarity="results/{dataset}/{arch}/filter_similarity.csv",
        similarity_plot="results/{dataset}/{arch}/filter_similarity.png",
        deeper="results/{dataset}/{arch}/conv_kernels.png",
    params:
        seed=config["seed"],
    log:
        "results/logs/{dataset}/{arch}/extract_filters.log",
    script:
        "../../scripts/extract_filters.py"


rule extract_feature_maps:
    input:
        data="results/data/{dataset}.npz",
        record="results/data/{dataset}.json",
        model="results/{dataset}/{arch}/model.pt",
    output:
        maps=directory("results/{dataset}/{arch}/feature_maps"),
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
        data="results/data/{dataset}.npz",
        record="results/data/{dataset}.json",
        model="results/{dataset}/{arch}/model.pt",
    output:
        csv="results/{dataset}/{arch}/sparsity.csv",
        png=report(
            "results/{dataset}/{arch}/sparsity.png",
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
    script:
        "../../scripts/measure_sparsity.py"


# Geometry depends on the architecture alone, not on trained weights: no model.pt needed.
rule receptive_fields:
    input:
        data="results/data/{dataset}.npz",
        record="results/data/{dataset}.json",
    output:
        csv="results/{dataset}/{arch}/receptive_field.csv",
        png=report(
            "results/{dataset}/{arch}/receptive_field.png",
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
        record="results/data/{dataset}.json",
    output:
        csv="results/{dataset}/{arch}/params.csv",
        png=report(
            "results/{dataset}/{arch}/params.png",
            caption="../report/captions/params.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        flow="results/{dataset}/{arch}/shape_flow.png",
    log:
        "results/logs/{dataset}/{arch}/param_breakdown.log",
    script:
        "../../scripts/param_breakdown.py"
