"""Settings of the ``echo`` worker (the ``settings:`` of its entry in the supervisor config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EchoSettings"]


class EchoSettings(BaseModel):
    """Settings of the ``echo`` worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topics: list[str] = Field(default=["*"], min_length=1)
    """Topic globs to count."""
    report_every_s: float = Field(default=1.0, gt=0)
    """Period of the ``sys.metric`` reports, s."""
