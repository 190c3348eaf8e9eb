"""Which language a text is in, as the dialog and the command grammar tell it apart."""

from __future__ import annotations

__all__ = ["language_of"]


def language_of(text: str) -> str:
    """``zh`` when the text has a Chinese character, else ``en``."""
    return "zh" if any("\u3400" <= ch <= "\u9fff" for ch in text) else "en"
