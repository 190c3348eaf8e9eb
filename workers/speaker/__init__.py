"""The ``speaker`` worker: plays ``tts.audio``, obeys ``speaker.stop``, reports ``speaker.report``.

The recipe is in :mod:`workers.speaker.worker`; run it with ``python -m workers.speaker``.
"""
