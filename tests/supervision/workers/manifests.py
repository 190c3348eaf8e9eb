"""Manifests of the supervisor's test workers (named ``manifest: ...manifests:NAME`` by
``harness.worker``)."""

from pydantic import BaseModel, ConfigDict, Field

from bus.manifest import Manifest
from schemas.asr import AsrText


class RelaySettings(BaseModel):
    """Settings of the relay test worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ready_after_s: float = Field(default=0.0, ge=0)
    """Delay before it reports ready, s."""


RELAY = Manifest(
    kind="sink",
    summary="Answers every asr.text with a sys.metric 'relayed'.",
    consumes={"asr.text": AsrText},
    settings=RelaySettings,
)
CRASH = Manifest(kind="source", summary="Dies at start with $CRASH_CODE.")
LOCKCHECK = Manifest(kind="source", summary="Exits 0 if its memory is locked.")
STUBBORN = Manifest(kind="source", summary="Ignores SIGTERM.")
NOMODEL = Manifest(kind="source", summary="Cannot run: its model file is missing.")
