"""Car intents as a whole answer: the JSON a model writes when it is asked for nothing else.

When the dialog's grammar does not parse a command-like utterance it asks the LLM for its
intent only (``LlmRequest.intent_schema``): the answer is ``null`` (not a command) or a list of
``rtos_command`` arguments, and the LLM worker constrains the generation to that JSON schema
where the backend can (llama.cpp: a grammar built from the schema; an OpenAI-compatible server:
``response_format``), or offers the tool and validates afterwards where it cannot (rkllm's
function calling).

:func:`answer_schema` derives the schema from :class:`schemas.rtos.CarIntent` (its fields and
their JSON types, through :class:`text.intents.ToolArguments`): one object per spoken kind with
exactly the fields that kind uses (:data:`KIND_FIELDS`), so a change to ``CarIntent`` reaches the
grammar; the asker may narrow the numbers to the values it allows (``values``: the amounts the
user said), so that a constrained model cannot write any other. :func:`parse_answer` validates
the answer exactly as tool calls are (:func:`text.intents.parse_intent`: no unknown key, no
coercion): ``null`` or ``[]`` is no intent and no error; anything malformed is an
``intent_error`` with the text kept in ``refused``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from schemas.rtos import CarIntent
from text.intents import IntentResult, ToolArguments, parse_intent, parse_intents

__all__ = ["KIND_FIELDS", "MAX_INTENTS", "answer_schema", "parse_answer"]

#: The spoken kinds and, for each, the field sets it may be written with (one alternative each).
#: ``reset`` (clearing the emergency-stop latch) is not a spoken command: a misheard word must
#: never release an emergency stop.
KIND_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "drive": (("distance_m",), ("linear_mps", "duration_ms")),
    "turn": (("angle_deg",),),
    "stop": ((),),
    "estop": ((),),
    "led": (("led_rgb",),),
    "buzzer": (("buzzer_hz", "duration_ms"),),
}
MAX_INTENTS = 4
"""Most intents in one answer (the dialog's limit for one utterance too)."""


def _field_schema(name: str, allowed: Collection[float] | None) -> dict[str, Any]:
    props = ToolArguments.model_json_schema()["properties"]
    if name not in props:
        raise KeyError(f"{name} is not a field of CarIntent; update KIND_FIELDS to its fields.")
    kind = props[name]["type"]
    if allowed is None:
        return {"type": kind}
    return {"enum": sorted({int(v) if kind == "integer" else float(v) for v in allowed})}


def answer_schema(
    values: Mapping[str, Mapping[str, Collection[float]]] | None = None,
    *,
    max_items: int = MAX_INTENTS,
) -> dict[str, Any]:
    """JSON schema of an intents answer: ``null`` or 1 to ``max_items`` intents.

    ``values`` (kind -> field -> allowed values) narrows the answer to those kinds, and each of
    their numeric fields to its values; an alternative with a field that has no allowed value is
    left out. Without it, every kind of :data:`KIND_FIELDS` with its fields' JSON types.
    """
    items = []
    for kind in KIND_FIELDS if values is None else [k for k in KIND_FIELDS if k in values]:
        for fields in KIND_FIELDS[kind]:
            allowed = {f: None if values is None else values[kind].get(f) for f in fields}
            if values is not None and any(not v for v in allowed.values()):
                continue
            props: dict[str, Any] = {"kind": {"const": kind}}
            props.update({f: _field_schema(f, allowed[f]) for f in fields})
            items.append(
                {
                    "type": "object",
                    "properties": props,
                    "required": ["kind", *fields],
                    "additionalProperties": False,
                }
            )
    if not items:
        return {"type": "null"}
    array = {
        "type": "array",
        "minItems": 1,
        "maxItems": max(1, min(max_items, MAX_INTENTS)),
        "items": {"anyOf": items},
    }
    return {"anyOf": [{"type": "null"}, array]}


def parse_answer(text: str, tool_blocks: Sequence[str] = ()) -> IntentResult:
    """The intents of an answer to an intents request (``tool_blocks`` where the backend used
    the tool instead): ``null``/``[]``/nothing -> none; a list or one object -> validated."""
    if tool_blocks:
        return parse_intents(list(tool_blocks), "")
    stripped = text.strip()
    if stripped in ("", "null", "[]", "{}"):
        return IntentResult()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        why = f"The intents answer is not valid JSON ({exc.msg})."
        return IntentResult(error=why, refused=text)
    if data is None:
        return IntentResult()
    items = data if isinstance(data, list) else [data]
    if len(items) > MAX_INTENTS:
        return IntentResult(
            error=f"The intents answer has {len(items)} intents; at most {MAX_INTENTS}.",
            refused=text,
        )
    out: list[CarIntent] = []
    for i, item in enumerate(items):
        res = parse_intent(json.dumps(item, ensure_ascii=False))
        if res.error or not res.intents:
            why = res.error or "The intents answer holds something that is not an object."
            where = f"Intent {i + 1} of {len(items)}: " if len(items) > 1 else ""
            return IntentResult(error=where + why, refused=text)
        out += res.intents
    return IntentResult(intents=tuple(out))
