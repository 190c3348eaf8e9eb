"""Test worker: a Python worker whose model file is missing: it says why and exits 2 ("cannot
run as configured"), as ``workers.runner.run_worker`` does for every worker."""

import sys

from supervision.exitcodes import EXIT_CANNOT_RUN, write_reason

REASON = "No model at /nonexistent/model.gguf; put the file there or set settings.model_path."

if __name__ == "__main__":
    sys.stderr.write(f"nomodel: {REASON}\n")
    write_reason(REASON)
    sys.exit(EXIT_CANNOT_RUN)
