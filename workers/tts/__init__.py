"""The ``tts`` worker: consumes ``tts.request`` and ``speaker.stop``; produces ``tts.audio``.

``__main__`` is the recipe (``python -m workers.tts``), ``manifest`` and ``settings`` what it
declares. Pure modules beside it: ``queue`` (sentences waiting, turns cancelled), ``synth`` (one
sentence -> ``TtsAudio`` at the speaker's rate), ``backends`` (espeak-ng, piper).
"""
