"""The ``asr`` worker: consumes ``vad.segment``; produces ``asr.text`` (and ``sys.metric``).

Speech segments in, text out: SenseVoice on the NPU or CPU, or the packaged Whisper (default).
``__main__`` is the recipe (``python -m workers.asr``), ``manifest`` and ``settings`` what it
declares. Pure modules, one concept each: :mod:`~workers.asr.recognise` (one segment -> its
``asr.text``), :mod:`~workers.asr.frontend` (fbank/LFR/CMVN), :mod:`~workers.asr.sensevoice`
(query rows, padding, output layout, CTC, tags), :mod:`~workers.asr.runtimes` (rknnlite,
onnxruntime), :mod:`~workers.asr.modeldir` (file layout), :mod:`~workers.asr.longform` (long
segments), :mod:`~workers.asr.whisper` (the packaged default), :mod:`~workers.asr.transcript`
(the backend interface), :mod:`~workers.asr.backends` (settings -> backend) and
:mod:`~workers.asr.errors`. See ``docs/asr.md``.
"""
