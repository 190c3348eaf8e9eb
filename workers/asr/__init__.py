"""The ``asr`` worker: speech segments in, text out (SenseVoice on the NPU or CPU, Whisper default).

Modules, one concept each: :mod:`~workers.asr.frontend` (fbank/LFR/CMVN),
:mod:`~workers.asr.sensevoice` (query rows, padding, output layout, CTC, tags),
:mod:`~workers.asr.runtimes` (rknnlite, onnxruntime), :mod:`~workers.asr.modeldir` (file
layout), :mod:`~workers.asr.longform` (long segments), :mod:`~workers.asr.whisper` (the packaged
default), :mod:`~workers.asr.transcript` (the backend interface), :mod:`~workers.asr.backends`
(settings -> backend), :mod:`~workers.asr.settings`, :mod:`~workers.asr.errors` and
:mod:`~workers.asr.worker` (the recipe). See ``docs/asr.md``.
"""
