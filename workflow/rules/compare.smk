rule compare_cost:
    input:
        unpack(compare_cost_inputs),
    output:
        csv="results/{dataset}/compare/cost.csv",
        png=report(
            "results/{dataset}/compare/cost.png",
            caption="../report/captions/cost.rst",
            category="{dataset}",
            subcategory="CNN vs MLP",
        ),
    params:
        archs=config["compare"]["architectures"],
    log:
        "results/logs/{dataset}/compare/cost.log",
    script:
        "../../scripts/compare_cost.py"


# Shapes depend on the architectures alone: no trained model needed.
rule compare_dense_equivalent:
    output:
        csv="results/{dataset}/compare/dense_equivalent.csv",
        thought="results/{dataset}/compare/first_layer_224.csv",
        png="results/{dataset}/compare/dense_equivalent.png",
    params:
        archs=config["compare"]["architectures"],
    log:
        "results/logs/{dataset}/compare/dense_equivalent.log",
    script:
        "../../scripts/compare_dense_equivalent.py"


rule compare_translation:
    input:
        unpack(compare_translation_inputs),
    output:
        csv="results/{dataset}/compare/translation.csv",
        png=report(
            "results/{dataset}/compare/translation.png",
            caption="../report/captions/translation.rst",
            category="{dataset}",
            subcategory="CNN vs MLP",
        ),
    params:
        archs=config["compare"]["architectures"],
        max_shift=config["compare"]["max_shift"],
        batch_size=config["evaluation"]["batch_size"],
    log:
        "results/logs/{dataset}/compare/translation.log",
    benchmark:
        "results/benchmarks/{dataset}/compare/translation.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
    script:
        "../../scripts/compare_translation.py"


rule compare_permutation:
    input:
        unpack(compare_permutation_inputs),
    output:
        csv="results/{dataset}/compare/permutation.csv",
        png=report(
            "results/{dataset}/compare/permutation.png",
            caption="../report/captions/permutation.rst",
            category="{dataset}",
            subcategory="CNN vs MLP",
        ),
    params:
        archs=config["compare"]["permutation"]["architectures"],
    log:
        "results/logs/{dataset}/compare/permutation.log",
    script:
        "../../scripts/compare_permutation.py"


rule compare_data_efficiency:
    input:
        unpack(compare_data_efficiency_inputs),
    output:
        csv="results/{dataset}/compare/data_efficiency.csv",
        png=report(
            "results/{dataset}/compare/data_efficiency.png",
            caption="../report/captions/data_efficiency.rst",
            category="{dataset}",
            subcategory="CNN vs MLP",
        ),
    params:
        runs=data_efficiency_labels,
    log:
        "results/logs/{dataset}/compare/data_efficiency.log",
    script:
        "../../scripts/compare_data_efficiency.py"


rule compare_training_dynamics:
    input:
        unpack(compare_dynamics_inputs),
    output:
        csv="results/{dataset}/compare/training_dynamics.csv",
        png="results/{dataset}/compare/training_dynamics.png",
    params:
        archs=config["compare"]["architectures"],
    log:
        "results/logs/{dataset}/compare/training_dynamics.log",
    script:
        "../../scripts/compare_training_dynamics.py"
