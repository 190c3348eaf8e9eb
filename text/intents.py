"""Structured intents: RT-Thread commands the model asks for, checked before anyone acts.

The intent model is derived from :class:`schemas.rtos.RtosCommand` at import time (every field
except those the sender fills in: the command id, its time to live and the audit source), with
unknown keys forbidden and no type coercion. The JSON schema offered to the model, the tool
definition (OpenAI form, also what ``rkllm_set_function_tools`` takes) and the validation all come
from that one derived model, so a change to ``RtosCommand`` reaches all three.

The model answers a command with a Qwen-style block::

    <tool_call>{"name": "rtos_command", "arguments": {"kind": "turn", "angle_deg": 90}}</tool_call>

(bare arguments are accepted too; several blocks give a JSON list, in order). A reply that tries
and fails (bad JSON, unknown tool, a key or value the schema refuses) gives an
:class:`IntentResult` with an ``error`` sentence and no intent: a garbled reply is reported, never
guessed into a command.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from schemas.rtos import RtosCommand

__all__ = [
    "TOOL_NAME",
    "IntentModel",
    "IntentResult",
    "intent_schema",
    "parse_intent",
    "parse_intents",
    "tool_definition",
    "tool_prompt",
]

TOOL_NAME = "rtos_command"

#: Fields of RtosCommand filled in by whoever sends the command, never by the model.
_SENDER_FIELDS = frozenset({"cmd_id", "ttl_ms", "source"})


def _derive_intent_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in RtosCommand.model_fields.items()
        if name not in _SENDER_FIELDS
    }
    return create_model(
        "RtosIntent",
        __config__=ConfigDict(extra="forbid", strict=True, frozen=True),
        __doc__=f"Arguments of the {TOOL_NAME} tool: {RtosCommand.__doc__}",
        **fields,
    )


IntentModel: type[BaseModel] = _derive_intent_model()


def intent_schema() -> dict[str, Any]:
    """JSON schema of the tool's arguments."""
    return IntentModel.model_json_schema()


def tool_definition() -> dict[str, Any]:
    """The tool in OpenAI function form."""
    schema = intent_schema()
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": (RtosCommand.__doc__ or "").strip(),
            "parameters": schema,
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
    """Outcome of looking for an intent in a reply."""

    intent_json: str = ""
    """The validated arguments as JSON; empty when there is none."""
    error: str = ""
    """Why an attempted tool call was refused, as a sentence; empty when fine or absent."""


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
        data = json.loads(tool_text)
    except json.JSONDecodeError as exc:
        return IntentResult(error=f"The model's tool call is not valid JSON ({exc.msg}).")
    if not isinstance(data, dict):
        return IntentResult(error="The model's tool call is not a JSON object.")
    if "arguments" in data or "name" in data:
        name = data.get("name")
        if name != TOOL_NAME:
            return IntentResult(
                error=f"The model called an unknown tool {name!r}; only {TOOL_NAME!r} exists."
            )
        args = data.get("arguments")
        if isinstance(args, str):  # OpenAI servers send arguments as a JSON string
            try:
                args = json.loads(args)
            except json.JSONDecodeError as exc:
                return IntentResult(error=f"The tool call's arguments are not JSON ({exc.msg}).")
        if not isinstance(args, dict):
            return IntentResult(error="The tool call's arguments are not a JSON object.")
        data = args
    try:
        intent = IntentModel.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors()
        )
        return IntentResult(error=f"The model's command was refused by the schema: {problems}.")
    return IntentResult(intent_json=intent.model_dump_json(exclude_unset=True))


def parse_intents(tool_blocks: list[str], answer: str = "") -> IntentResult:
    """Validate every ``<tool_call>`` block of a reply: one gives an object, several a list.

    One bad block refuses them all (a half-understood sequence of moves is not carried out).
    With no block, the answer counts as an attempt only if it is nothing but JSON.
    """
    if not tool_blocks:
        return parse_intent(None, answer)
    results = [parse_intent(block) for block in tool_blocks]
    for i, res in enumerate(results):
        if res.error:
            where = f"Tool call {i + 1} of {len(results)}: " if len(results) > 1 else ""
            return IntentResult(error=where + res.error)
    if len(results) == 1:
        return results[0]
    return IntentResult(intent_json="[" + ",".join(r.intent_json for r in results) + "]")
