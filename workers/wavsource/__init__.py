"""The ``wavsource`` worker: WAV files as if from a microphone; publishes ``audio.frame``.

The recipe is in :mod:`workers.wavsource.worker`; run it with ``python -m workers.wavsource``.
"""
