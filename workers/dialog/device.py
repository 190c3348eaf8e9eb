"""Simple questions about the car, answered from its latest telemetry without the LLM.

    answer_device_question("Where are you?", telemetry)  # "I am at x 1 metres, ..."

Returns ``None`` when the text is not such a question, so the caller asks the LLM instead.
"""

from __future__ import annotations

import re

from schemas.rtos import RtosTelemetry
from workers.dialog.replies import language_of, say

__all__ = ["answer_device_question", "device_topic"]

_WHERE = re.compile(
    r"\b(where are you|where is the car|where am i|your (position|location)|position)\b|你在哪|位置"
)
_BATTERY = re.compile(r"\b(battery|charge)\b|电量|电池")
_STATE_ZH = {"idle": "空闲", "moving": "行驶中", "turning": "转弯中", "stopped": "已停止",
             "estop": "急停", "fault": "故障", "offline": "离线"}  # fmt: skip


def device_topic(text: str) -> str | None:
    """``where`` or ``battery`` when ``text`` asks about it, else ``None``."""
    t = text.lower()
    if _BATTERY.search(t):
        return "battery"
    if _WHERE.search(t):
        return "where"
    return None


def answer_device_question(text: str, telemetry: RtosTelemetry | None) -> str | None:
    """The spoken answer to a device question, or ``None`` when ``text`` is not one."""
    topic = device_topic(text)
    if topic is None:
        return None
    lang = language_of(text)
    if telemetry is None:
        return say("no_telemetry", lang)
    if telemetry.state == "offline":
        return say("rt_offline", lang)
    if topic == "battery":
        return say("battery", lang, pct=f"{telemetry.battery_pct:.0f}")
    state = _STATE_ZH.get(telemetry.state, telemetry.state) if lang == "zh" else telemetry.state
    return say(
        "where",
        lang,
        x=f"{telemetry.x_m:.1f}",
        y=f"{telemetry.y_m:.1f}",
        heading=f"{telemetry.heading_deg:.0f}",
        state=state,
    )
