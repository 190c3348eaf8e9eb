"""The ``asr`` worker: speech segments in, text out (SenseVoice on the NPU or CPU, Whisper default).

Modules: :mod:`~workers.asr.frontend` (fbank/LFR/CMVN), :mod:`~workers.asr.sensevoice` (query
rows, padding, CTC, tags), :mod:`~workers.asr.runtimes` (rknnlite, onnxruntime),
:mod:`~workers.asr.modeldir` (file layout), :mod:`~workers.asr.longform` (long segments),
:mod:`~workers.asr.whisper` (the packaged default), :mod:`~workers.asr.worker` (the recipe).
"""
