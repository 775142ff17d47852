rule evaluate:
    input:
        data="results/data/{dataset}.npz",
        record="results/data/{dataset}.json",
        model="results/{dataset}/{arch}/model.pt",
    output:
        metrics="results/{dataset}/{arch}/metrics.json",
        confusion="results/{dataset}/{arch}/confusion.png",
        misclassified="results/{dataset}/{arch}/misclassified.png",
    params:
        batch_size=config["evaluation"]["batch_size"],
        misclassified=config["evaluation"]["misclassified"],
    log:
        "results/logs/{dataset}/{arch}/evaluate.log",
    benchmark:
        "results/benchmarks/{dataset}/{arch}/evaluate.tsv"
    threads: 2
    resources:
        gpu=gpu_request,
    script:
        "../../scripts/evaluate.py"
