"""The ``mic`` worker: a PortAudio input device in (pyaudio); produces ``audio.frame``.

It consumes nothing from the bus. ``__main__`` is the recipe (``python -m workers.mic``,
``--list`` for the devices), ``manifest`` and ``settings`` what it declares, ``capture`` the
stream and its callback queue; the conversion to 16 kHz frames is :mod:`audio.capture`.
"""
