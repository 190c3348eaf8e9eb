"""The LLM worker: backends, output handling (thinking, sentences, intents), history, metrics.

Run as ``python -m workers.llm``; see ``docs/llm.md``. The pure modules are importable on their
own: the dialog worker uses :mod:`text.segment` to cut replies into sentences for TTS.
"""
