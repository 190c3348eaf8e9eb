"""The ``mic`` worker: captures a PortAudio input device with pyaudio; publishes ``audio.frame``.

The recipe is in :mod:`workers.mic.worker`; run it with ``python -m workers.mic``.
"""
