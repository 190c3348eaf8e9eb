"""Text utilities that the dialog and the LLM worker share, with no bus and no model.

- :mod:`text.segment`: cut streamed text into sentences (and first clauses) to speak;
- :mod:`text.think`: keep a reasoning model's ``<think>`` part apart from the answer;
- :mod:`text.history`: fit a conversation into a token budget;
- :mod:`text.intents`: car commands from an LLM's tool calls;
- :mod:`text.stopwords`: whether an utterance holds a stop word (the STOP path and the grammar).
"""
