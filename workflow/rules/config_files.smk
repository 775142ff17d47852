# Included before the Snakefile's `configfile:` directive: every config file is read strictly
# first, because Snakemake keeps only the last of a key given twice (dropping a whole block of
# settings without a word) and reports a YAML syntax error without naming the file or the line.
# Files given with --configfile were parsed by Snakemake before any workflow code runs: a syntax
# error in one of them is reported in Snakemake's own words; a key given twice is caught here.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from cnnlab.config import ConfigError  # noqa: E402
from cnnlab.config_files import load_config_file  # noqa: E402

# The default config file, relative to the working directory as `configfile:` takes it.
DEFAULT_CONFIG_FILE = "config.yaml"

for _config_file in [DEFAULT_CONFIG_FILE, *workflow.configfiles]:
    if Path(_config_file).is_file():
        try:
            load_config_file(_config_file)
        except ConfigError as error:
            raise WorkflowError(str(error)) from None
