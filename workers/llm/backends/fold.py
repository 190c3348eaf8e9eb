"""One message for runtimes and servers that read only one: the persona and the history in it.

Rockchip's rkllm runtime takes one prompt per run (``keep_history = 0`` in every demo), and its
Flask servers pass on only one message: 1.2.x the first one, 1.3.0 the newest user message.
:func:`fold_turns` writes the system prompt and the earlier turns into that message, so that
both still reach the model; DeepSeek-R1 models are meant to be prompted that way anyway
("all instructions should be contained within the user prompt", their model card).

    persona

    User: my name is Ann
    Assistant: Hello Ann.
    User: what is my name
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.llm import ChatMessage

__all__ = ["fold_turns", "split_system"]


def split_system(messages: Sequence[ChatMessage]) -> tuple[str, list[ChatMessage]]:
    """(the system messages joined, the other messages in order)."""
    system = "\n".join(m.content for m in messages if m.role == "system" and m.content)
    return system, [m for m in messages if m.role != "system"]


def fold_turns(persona: str, earlier: Sequence[ChatMessage], last: ChatMessage) -> str:
    """The text of ``last`` with ``persona`` and the ``earlier`` user/assistant turns before it.

    A tool result (role ``tool``) is returned as it is: the runtime formats it as a tool
    response, which must stay the JSON the tool produced.
    """
    if last.role == "tool":
        return last.content
    lines = [
        f"{'User' if m.role == 'user' else 'Assistant'}: {m.content}"
        for m in earlier
        if m.role in ("user", "assistant")
    ]
    body = "\n".join([*lines, f"User: {last.content}"]) if lines else last.content
    return f"{persona}\n\n{body}" if persona else body
