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
        heavy_jobs=heavy_request,
    script:
        "../../scripts/effective_receptive_fields.py"


rule top_activating_images:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
    output:
        images=directory(run_file(TOP_IMAGES.images)),
    params:
        channels=config["inspection"]["feature_map_channels"],
        batch_size=config["evaluation"]["batch_size"],
    log:
        "results/logs/{dataset}/{arch}/top_activating_images.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/top_activating_images.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
        heavy_jobs=heavy_request,
    script:
        "../../scripts/top_activating_images.py"


rule embed_representations:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
    output:
        embedding=run_file(EMBEDDING.embedding),
        json=run_file(EMBEDDING.json),
    params:
        seed=config["seed"],
        images=config["units"]["embedding_images"],
        knn_images=config["units"]["knn_images"],
        neighbours=config["units"]["neighbours"],
        batch_size=config["evaluation"]["batch_size"],
    log:
        "results/logs/{dataset}/{arch}/embed_representations.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/embed_representations.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
        heavy_jobs=heavy_request,
    script:
        "../../scripts/embed_representations.py"


rule compare_embeddings:
    input:
        unpack(embedding_inputs),
        record=data_file("record"),
    output:
        csv=dataset_file(EMBEDDINGS.csv),
        png=report(
            dataset_file(EMBEDDINGS.png),
            caption="../report/captions/embeddings.rst",
            category="{dataset}",
        ),
    params:
        archs=embedding_archs,
    log:
        "results/logs/{dataset}/compare_embeddings.log",
    benchmark:
        "results/benchmarks/{dataset}/compare_embeddings.tsv"
    script:
        "../../scripts/compare_embeddings.py"


rule optimise_inputs:
    input:
        data=data_file("data"),
        record=data_file("record"),
        model=run_file(TRAIN.model),
    output:
        json=run_file(OPTIMAL_INPUTS.json),
        png=report(
            run_file(OPTIMAL_INPUTS.png),
            caption="../report/captions/optimal_inputs.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    params:
        seed=config["seed"],
        steps=config["units"]["optimisation_steps"],
        total_variation=config["units"]["total_variation"],
    log:
        "results/logs/{dataset}/{arch}/optimise_inputs.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/optimise_inputs.tsv"
    threads: HEAVY_THREADS
    resources:
        gpu=gpu_request,
        heavy_jobs=heavy_request,
    script:
        "../../scripts/optimise_inputs.py"


# Weights only, on the CPU: a light job (no pass over the data).
rule weight_changes:
    input:
        record=data_file("record"),
        model=run_file(TRAIN.model),
        trajectory=run_file(TRAIN.trajectory),
    output:
        csv=run_file(WEIGHT_CHANGES.csv),
        png=report(
            run_file(WEIGHT_CHANGES.png),
            caption="../report/captions/weights.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
        evolution_csv=run_file(WEIGHT_CHANGES.evolution_csv),
        evolution=report(
            run_file(WEIGHT_CHANGES.evolution),
            caption="../report/captions/weight_evolution.rst",
            category="{dataset}",
            subcategory="{arch}",
        ),
    params:
        # The model's first training seed: its initial weights are drawn again from it.
        training_seed=training_seed,
    log:
        "results/logs/{dataset}/{arch}/weight_changes.log",
    script:
        "../../scripts/weight_changes.py"
