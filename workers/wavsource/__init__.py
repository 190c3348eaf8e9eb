"""The ``wavsource`` worker: WAV files as if from a microphone; produces ``audio.frame``.

It consumes nothing from the bus. The microphone of machines without one, of tests and
benchmarks. ``__main__`` is the recipe (``python -m workers.wavsource``), ``manifest`` and
``settings`` what it declares, ``playout`` the files' frames and their timing (pure).
"""
