"""The ``vad`` worker: consumes ``audio.frame``; produces ``vad.state`` and ``vad.segment``.

``__main__`` is the recipe (``python -m workers.vad``); ``manifest`` and ``settings`` what it
declares. Pure modules, each tested alone: ``segmenter`` (the state machine), ``classifier``
(the per-frame voiced decision: webrtcvad and an optional energy gate), ``pipeline`` (the two on
bus payloads: frames in, :class:`bus.Out` messages out).
"""
