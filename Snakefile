# cnnlab: trains CNNs and MLP baselines, looks inside them, reports what it finds.
# Experiment settings: config.yaml (validated against workflow/schemas/config.schema.yaml).
# Runtime settings: workflow/profiles/default/config.yaml.
include: "workflow/rules/config_files.smk"
configfile: DEFAULT_CONFIG_FILE


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/inspect.smk"
include: "workflow/rules/units.smk"
include: "workflow/rules/explain.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets,
        kept_artifacts,
        report_file(REPORT_FILES.html),
        report_file(REPORT_FILES.pdf),
    default_target: True
