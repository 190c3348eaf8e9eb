"""Structured intents: RT-Thread commands the model asks for, checked before anyone acts.

An intent is a :class:`schemas.rtos.CarIntent` (the fields of ``RtosCommand`` that are not the
sender's: no command id, time to live or audit source). The model's tool arguments are checked
with :class:`ToolArguments`, the same fields with unknown keys forbidden and no type coercion;
the JSON schema offered to the model, the tool definition (OpenAI form, also what
``rkllm_set_function_tools`` takes) and the validation all come from it, so a change to
``CarIntent`` reaches all three. What passes is handed on typed, as ``LlmReply.intents``.

The model answers a command with a Qwen-style block::

    <tool_call>{"name": "rtos_command", "arguments": {"kind": "turn", "angle_deg": 90}}</tool_call>

(bare arguments are accepted too; several blocks give several intents, in order). A reply that
tries and fails (bad JSON, unknown tool, a key or value the schema refuses) gives an
:class:`IntentResult` with an ``error`` sentence, no intent, and the refused text kept in
``refused``: a garbled reply is reported, never guessed into a command, and nothing is lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, ValidationError

from schemas.rtos import CarIntent

__all__ = [
    "TOOL_NAME",
    "IntentResult",
    "ToolArguments",
    "intent_schema",
    "parse_intent",
    "parse_intents",
    "tool_definition",
    "tool_prompt",
]

TOOL_NAME = "rtos_command"

_TOOL_DESCRIPTION = (
    "Command the car: drive (a distance or a duration), turn (by an angle), stop, estop "
    "(latched emergency stop), reset (clears the latch), led or buzzer. One call per step; "
    "several calls are carried out in order."
)


class ToolArguments(CarIntent):
    """Arguments of the rtos_command tool: one step for the car."""

    model_config = ConfigDict(extra="forbid", strict=True, title="rtos_command arguments")


def intent_schema() -> dict[str, Any]:
    """JSON schema of the tool's arguments."""
    return ToolArguments.model_json_schema()


def tool_definition() -> dict[str, Any]:
    """The tool in OpenAI function form."""
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": _TOOL_DESCRIPTION,
            "parameters": intent_schema(),
        },
    }


def tool_prompt() -> str:
    """System-prompt text that offers the tool to a model without native tool support."""
    return (
        "You can control the car. To do so, answer with exactly one block\n"
        f'<tool_call>{{"name": "{TOOL_NAME}", "arguments": {{...}}}}</tool_call>\n'
        "where the arguments follow this JSON schema:\n"
        f"{json.dumps(intent_schema(), ensure_ascii=False, separators=(',', ':'))}\n"
        "Only send a command when the user asks for one; otherwise answer in plain words."
    )


@dataclass(frozen=True)
class IntentResult:
    """Outcome of looking for intents in a reply."""

    intents: tuple[CarIntent, ...] = ()
    """The validated intents, in order; empty when there are none or they were refused."""
    error: str = ""
    """Why an attempted tool call was refused, as a sentence; empty when fine or absent."""
    refused: str = ""
    """The refused tool call text as the model wrote it; empty when nothing was refused."""


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_intent(tool_text: str | None, answer: str = "") -> IntentResult:
    """Validate the text of a ``<tool_call>`` block, or an answer that is nothing but JSON.

    ``tool_text`` is None when the reply had no tool block; then the answer counts as an
    attempt only if it is a JSON object (optionally in a code fence).
    """
    if tool_text is None:
        stripped = answer.strip()
        fenced = _FENCE.match(stripped)
        if fenced:
            stripped = fenced.group(1)
        if not stripped.startswith("{"):
            return IntentResult()
        tool_text = stripped
    try:
        return IntentResult(intents=(_check(tool_text),))
    except _Refused as exc:
        return IntentResult(error=str(exc), refused=tool_text)


class _Refused(ValueError):
    """A tool call that cannot be carried out; the message says why."""


def _check(tool_text: str) -> CarIntent:
    """The intent of one tool call's text; :class:`_Refused` with the reason otherwise."""
    try:
        data = json.loads(tool_text)
    except json.JSONDecodeError as exc:
        raise _Refused(f"The model's tool call is not valid JSON ({exc.msg}).") from exc
    if not isinstance(data, dict):
        raise _Refused("The model's tool call is not a JSON object.")
    if "arguments" in data or "name" in data:
        name = data.get("name")
        if name != TOOL_NAME:
            raise _Refused(f"The model called an unknown tool {name!r}; only {TOOL_NAME!r} exists.")
        args = data.get("arguments")
        if isinstance(args, str):  # OpenAI servers send arguments as a JSON string
            try:
                args = json.loads(args)
            except json.JSONDecodeError as exc:
                raise _Refused(f"The tool call's arguments are not JSON ({exc.msg}).") from exc
        if not isinstance(args, dict):
            raise _Refused("The tool call's arguments are not a JSON object.")
        data = args
    try:
        args_ok = ToolArguments.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors()
        )
        raise _Refused(f"The model's command was refused by the schema: {problems}.") from exc
    # Handed on as the plain wire model; what the model set stays marked as set.
    return CarIntent.model_validate(args_ok.model_dump(exclude_unset=True))


def parse_intents(tool_blocks: list[str], answer: str = "") -> IntentResult:
    """Validate every ``<tool_call>`` block of a reply, in order.

    One bad block refuses them all (a half-understood sequence of moves is not carried out),
    and every block is kept in ``refused``. With no block, the answer counts as an attempt only
    if it is nothing but JSON.
    """
    if not tool_blocks:
        return parse_intent(None, answer)
    results = [parse_intent(block) for block in tool_blocks]
    for i, res in enumerate(results):
        if res.error:
            where = f"Tool call {i + 1} of {len(results)}: " if len(results) > 1 else ""
            refused = "\n".join(f"<tool_call>{b}</tool_call>" for b in tool_blocks)
            return IntentResult(error=where + res.error, refused=refused)
    return IntentResult(intents=tuple(i for r in results for i in r.intents))
