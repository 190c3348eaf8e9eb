"""What the assistant says by itself (not from the LLM), in English and Chinese.

:func:`language_of` picks the language of a text (any Chinese character makes it Chinese), and
:func:`say` looks a reply up by key in that language, formatting its fields.
"""

from __future__ import annotations

from text.language import language_of

__all__ = ["REPLIES", "language_of", "say"]

REPLIES: dict[str, tuple[str, str]] = {
    # key: (English, Chinese)
    "wake": ("Yes? I'm listening.", "我在，请说。"),
    "asr_failed": (
        "Sorry, I did not catch that. Please say it again.",
        "抱歉，我没听清，请再说一遍。",
    ),
    "llm_failed": (
        "Sorry, I can't think right now. Please try again.",
        "抱歉，我现在无法回答，请再试一次。",
    ),
    "no_answer": ("Sorry, I have no answer to that.", "抱歉，我不知道。"),
    "one_moment": ("One moment, please.", "请稍等。"),
    "command_ok": ("OK, {what}.", "好的，{what}。"),
    "refused": ("Sorry, I can't do that: {why}.", "抱歉，我不能这样做：{why}。"),
    "garbled": ("Sorry, I did not understand that command.", "抱歉，我没理解这个命令。"),
    "negated": ("OK, I won't.", "好的，我不动。"),
    "no_amount": (
        "Sorry, I did not catch how far. Please say the command again.",
        "抱歉，我没听清多远，请再说一遍命令。",
    ),
    "rt_rejected": ("The car refused: {why}.", "小车拒绝了命令：{why}。"),
    "rt_expired": ("The car did not start the command in time.", "小车没有及时执行命令。"),
    "rt_failed": ("The command failed: {why}.", "命令执行失败：{why}。"),
    "rt_done": ("Done.", "完成了。"),
    "rt_offline": ("The car is not connected.", "小车没有连接。"),
    "where": (
        "I am at x {x} metres, y {y} metres, heading {heading} degrees, and I am {state}.",
        "我在 x {x} 米，y {y} 米，朝向 {heading} 度，状态是{state}。",
    ),
    "battery": ("My battery is at {pct} percent.", "我的电量是百分之{pct}。"),
    "no_telemetry": ("I have no news from the car yet.", "我还没有收到小车的状态。"),
}

_THEN = {"en": ", then ", "zh": "，然后"}


def say(key: str, lang: str = "en", **fields: object) -> str:
    """The reply ``key`` in ``lang`` (``en`` or ``zh``; anything else falls back to English)."""
    en, zh = REPLIES[key]
    return (zh if lang == "zh" else en).format(**fields)


def join_steps(steps: list[str], lang: str = "en") -> str:
    """'a, then b' / 'a，然后b'."""
    return _THEN["zh" if lang == "zh" else "en"].join(steps)
