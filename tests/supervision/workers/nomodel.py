"""Test worker: a Python worker whose model file is missing: ``run_worker`` exits 2 with the
reason (the contract every worker follows for "cannot run as configured")."""

import sys

from bus import Node
from workers.runner import run_worker


class ModelMissing(Exception):
    """The configured model file does not exist."""


def _work(node: Node) -> None:
    raise ModelMissing(
        "No model at /nonexistent/model.gguf; put the file there or set settings.model_path."
    )


if __name__ == "__main__":
    sys.exit(run_worker(_work, unavailable=(ModelMissing,)))
