rule compare_cost:
    input:
        unpack(compare_cost_inputs),
    output:
        csv=compare_file(COST.csv),
        png=report(
            compare_file(COST.png),
            caption="../report/captions/cost.rst",
            category="{dataset}",
            subcategory="CNN vs MLP",
        ),
    params:
        runs=compare_arch_seeds,
        archs=config["compare"]["architectures"],
    log:
        "results/logs/{dataset}/compare/cost.log",
    script:
        "../../scripts/compare_cost.py"


# Shapes depend on the architectures alone: no trained model needed.
rule compare_dense_equivalent:
    output:
        csv=compare_file(DENSE_EQUIVALENT.csv),
        thought=compare_file(DENSE_EQUIVALENT.thought),
        png=compare_file(DENSE_EQUIVALENT.png),
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
        csv=compare_file(TRANSLATION.csv),
        tests=compare_file(TRANSLATION.tests),
        png=report(
            compare_file(TRANSLATION.png),
            caption="../report/captions/translation.rst",
            category="{dataset}",
            subcategory="CNN vs MLP",
        ),
    params:
        runs=compare_arch_seeds,
        max_shift=config["compare"]["max_shift"],
        batch_size=config["evaluation"]["batch_size"],
    log:
        "results/logs/{dataset}/compare/translation.log",
    benchmark:
        "results/benchmarks/{dataset}/compare/translation.tsv"
    threads: HEAVY_THREADS
    priority: PRIORITY["translation"]
    resources:
        gpu=gpu_request,
        heavy_jobs=heavy_request,
    script:
        "../../scripts/compare_translation.py"


rule compare_permutation:
    input:
        unpack(compare_permutation_inputs),
    output:
        csv=compare_file(PERMUTATION.csv),
        png=report(
            compare_file(PERMUTATION.png),
            caption="../report/captions/permutation.rst",
            category="{dataset}",
            subcategory="CNN vs MLP",
        ),
    params:
        runs=permutation_arch_seeds,
    log:
        "results/logs/{dataset}/compare/permutation.log",
    script:
        "../../scripts/compare_permutation.py"


rule compare_data_efficiency:
    input:
        unpack(compare_data_efficiency_inputs),
    output:
        csv=compare_file(DATA_EFFICIENCY.csv),
        tests=compare_file(DATA_EFFICIENCY.tests),
        png=report(
            compare_file(DATA_EFFICIENCY.png),
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
        csv=compare_file(TRAINING_DYNAMICS.csv),
        png=compare_file(TRAINING_DYNAMICS.png),
    params:
        runs=compare_arch_seeds,
    log:
        "results/logs/{dataset}/compare/training_dynamics.log",
    script:
        "../../scripts/compare_training_dynamics.py"
