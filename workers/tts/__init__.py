"""The tts worker: ``tts.request`` sentences in, ``tts.audio`` out (see ``synth``, ``worker``)."""
