"""A payload as the map the envelope's ``p`` carries, built without pydantic when that is exact.

``model_dump(mode="python")`` costs more than all the rest of encoding a small message. For a
*flat* model (every field a str, int, float, bool, bytes, None, a ``Literal`` of those, or a
tuple, list, dict[str, ...] or union of them; no computed field, no serializer, no excluded
field) the dump is the instance's ``__dict__`` itself, so a copy of it is used; any other model
is dumped by pydantic. Whether a model is flat is decided once per class from its annotations.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Annotated, Any, Literal, get_args, get_origin

from schemas.base import Message

__all__ = ["is_flat", "payload_map"]

_PLAIN = (str, int, float, bool, bytes, type(None))
_flat: dict[type, bool] = {}


def _plain(annotation: Any) -> bool:
    if annotation in _PLAIN:
        return True
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return all(type(a) in (str, int, bool) for a in args) and not any(
            isinstance(a, Enum) for a in args
        )
    if origin is Annotated:
        return _plain(args[0])
    if origin in (typing.Union, types.UnionType, tuple, list):
        return all(a is Ellipsis or _plain(a) for a in args) and bool(args)
    if origin is dict:
        return len(args) == 2 and args[0] is str and _plain(args[1])
    return False


def is_flat(model: type[Message]) -> bool:
    """True when ``model_dump(mode="python")`` of ``model`` equals its instances' ``__dict__``."""
    decorators = model.__pydantic_decorators__
    return (
        not model.model_computed_fields
        and not decorators.field_serializers
        and not decorators.model_serializers
        and all(_plain(f.annotation) and not f.exclude for f in model.model_fields.values())
    )


def payload_map(payload: Message, raw_name: str | None) -> dict[str, Any]:
    """The fields of ``payload`` by name, without the raw field."""
    cls = payload.__class__
    flat = _flat.get(cls)
    if flat is None:
        flat = _flat[cls] = is_flat(cls)
    if flat:
        body = payload.__dict__.copy()
        if raw_name:
            del body[raw_name]
        return body
    return payload.model_dump(mode="python", exclude={raw_name} if raw_name else None)
