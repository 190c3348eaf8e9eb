"""The ``dialog`` worker: wake phrase, turns, spoken replies, car commands.

Consumes ``vad.state``, ``asr.partial``, ``asr.text``, ``llm.delta``, ``llm.reply``, ``tts.audio``,
``speaker.report``, ``rtos.ack``, ``rtos.telemetry`` and ``sys.lifecycle``; produces
``llm.request``, ``llm.abort``, ``tts.request``, ``speaker.stop``, ``rtos.command``,
``dialog.state``, ``dialog.turn`` (and ``sys.metric``).

``__main__`` is the recipe (``python -m workers.dialog``), ``manifest`` and ``settings`` what it
declares. The logic is pure and tested alone: ``manager`` (the state machine and what the stages
share), ``listening`` (the user's speech, barge-in), ``answering`` (the LLM's reply, the car, the
audio), ``stopping`` (a stop word stops the car at once), ``early`` (the LLM asked with the
transcript of a pause), ``turn`` (a turn's stage and timeline), ``speech`` (sentences for the TTS),
``wake``, ``understanding`` (an utterance -> commands, a refusal, a question for the LLM or chat),
``commands`` (car commands understood locally), ``actions`` (intents checked against the bounds),
``car`` (commands sent one at a time), ``device`` (questions answered from telemetry),
``replies`` (what it says), ``recovery`` (a lost worker or bus outage costs the user nothing but
that turn), ``delivery`` (what became of each sentence), ``memory`` (the state across a restart
of the dialog) and ``snapshot`` (that state's JSON form).
"""
