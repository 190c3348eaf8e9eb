"""An LLM load beside the pipeline: llama.cpp generating without pause (used by ``bench.soak``).

    python -m bench.llmload [--threads 1] [--seconds 0]

Loads the embedded default model (SmolLM2-135M-Instruct, the llm worker's own stand-in) in this
process and generates a long story over and over until killed (or for ``--seconds``), on
``--threads`` threads: the CPU a second LLM takes, outside the bus, so that the pipeline's own
workers compete with it as they would with a busy NPU driver or a second model. Prints one line
per generation (tokens, tokens/s) to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from workers.llm.backends.llamacpp import default_model_path

__all__ = ["main"]

_PROMPT: Any = [{"role": "user", "content": "Tell me a long story about a dragon and a robot car."}]


def main(argv: list[str] | None = None) -> int:
    """Generate until killed."""
    parser = argparse.ArgumentParser(prog="python -m bench.llmload", description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0.0, help="0: until killed")
    args = parser.parse_args(argv)
    from llama_cpp import Llama

    llm: Any = Llama(model_path=str(default_model_path()), n_ctx=1024, n_threads=args.threads,
                verbose=False)  # fmt: skip
    end = time.monotonic() + args.seconds if args.seconds else float("inf")
    while time.monotonic() < end:
        t0 = time.monotonic()
        out = llm.create_chat_completion(messages=_PROMPT, max_tokens=256, temperature=0.8)
        n = out["usage"]["completion_tokens"]
        print(f"llmload tokens={n} tokens_per_s={n / (time.monotonic() - t0):.1f}",
              file=sys.stderr, flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
