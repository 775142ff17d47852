rule render_report:
    input:
        artifacts=all_targets,
        templates=REPORT_TEMPLATES,
        css=REPORT_CSS,
    output:
        html="report/index.html",
        pdf="report/report.pdf",
    params:
        config=config,
        runs=run_pairs(),
        compare_datasets=config["compare"]["datasets"],
    log:
        "results/logs/render_report.log",
    benchmark:
        "results/benchmarks/render_report.tsv"
    script:
        "../../scripts/render_report.py"
