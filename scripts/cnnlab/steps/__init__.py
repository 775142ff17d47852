"""The pipeline's steps, one module per file of workflow/rules/: the plain functions the
adapters in scripts/ call (paths and values in, files out). :mod:`.runtime` is what every
step runs inside."""
