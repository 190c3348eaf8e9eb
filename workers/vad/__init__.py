"""Voice activity detection: ``audio.frame`` in; ``vad.state`` and ``vad.segment`` out.

``segmenter`` is the pure state machine, ``classifier`` the per-frame voiced decision
(webrtcvad + optional energy gate), ``pipeline`` joins them on bus payloads, ``__main__`` is the
worker (``python -m workers.vad``).
"""
