"""The ``speaker`` worker: consumes ``tts.audio`` and ``speaker.stop``; produces ``speaker.report``.

``__main__`` is the recipe (``python -m workers.speaker``), ``manifest`` and ``settings`` what it
declares; ``speaker`` the logic with the output abstracted (queue, resample, record, report;
tested alone), ``output`` the PortAudio stream.
"""
