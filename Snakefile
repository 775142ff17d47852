# cnnlab: trains CNNs and MLP baselines, looks inside them, reports what it finds.
# Experiment settings: config.yaml (validated against workflow/schemas/config.schema.yaml).
# Runtime settings: workflow/profiles/default/config.yaml.
configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/inspect.smk"


rule all:
    input:
        all_targets,
    default_target: True
