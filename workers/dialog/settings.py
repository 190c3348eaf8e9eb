"""Settings of the dialog worker (the ``settings:`` map of its entry in the supervisor config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workers.dialog.actions import Bounds

__all__ = ["DialogSettings"]

DEFAULT_SYSTEM_PROMPT = (
    "Your name is Robo. You are the voice assistant of a small robot car. Answer in one or two "
    "short sentences, in the language of the question, without lists or markdown."
)


class DialogSettings(BaseModel):
    """How the dialog turns transcripts into replies and car commands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wake: Literal["phrase", "always"] = "phrase"
    """``phrase``: wait for a wake phrase; ``always``: every utterance is for the assistant."""
    wake_phrases: list[str] = Field(
        default_factory=lambda: ["hey robot", "hi robot", "ok robot", "你好小车"]
    )
    """Wake phrases, in characters, pinyin or English words."""
    awake_window_s: float = Field(default=30.0, ge=0)
    """Seconds without speech after which a wake phrase is needed again (0 = never)."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """System message of every LLM request."""
    history_max_chars: int = Field(default=1500, ge=0)
    """Budget of earlier turns sent with each request, in characters of content."""
    max_tokens: int = Field(default=96, gt=0)
    """Upper bound on generated tokens per reply."""
    temperature: float = Field(default=0.3, ge=0)
    """Sampling temperature of the LLM."""
    tools: bool = True
    """Offer the car command tool to the LLM."""
    enable_thinking: bool = False
    """Ask a thinking model to think first (never spoken)."""
    warm_up: bool = True
    """At start, ask the LLM for one token with the system prompt, so the first turn is warm."""
    local_commands: bool = True
    """Understand car commands ('please drive forward two meters') without the LLM."""
    repair: bool = True
    """Repair misheard command words ('dry forward' -> 'drive forward') when the grammar does
    not parse an utterance; numbers are never touched."""
    intent_llm: bool = True
    """Ask the LLM for the intent of a command-like utterance the grammar does not parse, under
    a grammar of the car's commands; what it returns must be supported by the words."""
    device_questions: bool = True
    """Answer 'where are you' / 'battery' from telemetry without the LLM."""
    speak_done: bool = True
    """Say 'Done.' when every command of a turn was executed."""
    barge_in: bool = True
    """Stop playback and abort the LLM when the user speaks over the assistant."""
    sentence_max_chars: int = Field(default=160, ge=0)
    """Cut a longer sentence at a comma so that speech can start (0 = never)."""
    first_clause_chars: int = Field(default=8, ge=0)
    """Send the reply's first clause to the TTS at its comma once it has this many characters,
    without waiting for the end of its sentence (0 = whole sentences only)."""
    partial_transcripts: bool = True
    """Read the speculative transcript of each pause (``asr.partial``): a stop word in it stops
    the car at once, a question may be asked early (the ASR must publish them)."""
    early_answers: bool = True
    """Ask the LLM with the transcript of the pause before the segment closes; its reply is
    spoken only if the segment closes with the same words (needs ``partial_transcripts``)."""
    asr_timeout_s: float = Field(default=15.0, gt=0)
    """End of speech -> transcript deadline before apologising."""
    llm_first_token_timeout_s: float = Field(default=20.0, gt=0)
    """Request -> first token deadline before apologising."""
    llm_stall_timeout_s: float = Field(default=10.0, gt=0)
    """Longest silence between two tokens before apologising."""
    tts_timeout_s: float = Field(default=15.0, gt=0)
    """Last request -> last audio deadline before closing the turn anyway."""
    asr_worker: str = "asr"
    """Name of the ASR worker (its death fails a pending transcript at once)."""
    llm_worker: str = "llm"
    """Name of the LLM worker (its death fails a pending reply at once)."""
    vad_worker: str = "vad"
    """Name of the VAD worker (its death in the middle of an utterance loses it: an apology)."""
    rtgw_worker: str = "rtgw"
    """Name of the car's gateway (its death may lose the acks of the commands in progress)."""
    rtapp_worker: str = "rtapp"
    """Name of the RT app's worker entry on a host (as ``rtgw_worker``)."""
    tts_worker: str = "tts"
    """Name of the TTS worker (once it is back from a death, what it had not synthesized is
    sent again)."""
    speaker_worker: str = "speaker"
    """Name of the speaker worker (once it is back from a death, what it had not played is said
    again)."""
    memory_max_age_s: float = Field(default=600.0, gt=0)
    """A state saved longer ago than this is not restored by a restarted dialog (the
    conversation is over), s."""
    outage_grace_s: float = Field(default=5.0, gt=0)
    """After a bus outage, how long a transcript awaited since before it may still take before
    the apology, s."""
    resend_grace_s: float = Field(default=1.5, gt=0)
    """After a bus outage, how long audio may still take before its sentence is sent again, s."""
    tick_s: float = Field(default=0.05, gt=0)
    """Interval of the timeout checks."""
    bounds: Bounds = Field(default_factory=Bounds)
    """What a spoken command may ask of the car."""
