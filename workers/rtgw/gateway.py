"""The gateway logic: commands through the envelope into the ring, ring records onto the bus.

:class:`Gateway` owns the Linux endpoint (endpoint 0) of the region; it does no bus I/O. The
worker feeds it commands (:meth:`Gateway.submit`) and calls :meth:`Gateway.step` every poll
period (or when the inbound doorbell rings: :meth:`Gateway.on_wake`); both return the
``(topic, payload, trace)`` messages to publish. Counters for ``sys.metric`` come from
:meth:`Gateway.metrics`.

Every command submitted ends in exactly one final ack on ``rtos.ack``: refused by the envelope
or the link (``rejected``), out of time before ring space (``expired``), or written to the ring
and then ended by the RT side or, when its final ack is lost, by :mod:`workers.rtgw.inflight`
(``failed``, counted in ``rtgw.ack_timeouts``/``rtgw.acks_lost``). Late and duplicate final acks
are counted (``rtgw.late_acks``) and logged, not published twice.

(About 360 lines: the link's state machine with submit/step, which share it; the envelope and
the in-flight table are already modules of their own.)
"""

from __future__ import annotations

import contextlib
import logging
import struct
import time
from typing import Literal

from bus import Out
from schemas.rtos import RtosAck, RtosCommand, RtosLink
from workers.rtgw import layout, messages, ring
from workers.rtgw.doorbell import Doorbell, PollDoorbell
from workers.rtgw.envelope import (
    ALWAYS_ADMITTED,
    CommandQueue,
    Pending,
    RateLimiter,
    check,
)
from workers.rtgw.errors import RingFault
from workers.rtgw.inflight import InFlightTable
from workers.rtgw.ring import Endpoint
from workers.rtgw.settings import GatewaySettings

__all__ = ["Gateway", "GatewaySettings", "Outgoing"]

log = logging.getLogger("workers.rtgw")

Outgoing = list[Out]
AckStatus = Literal["accepted", "started", "done", "rejected", "expired", "failed"]
LinkState = Literal["up", "down", "restarted", "fault"]

_OFFLINE = (
    "The RT side is offline (no handshake, or its heartbeat was lost); the command was not sent."
)


class Gateway:
    """Bus <-> ring logic of the Linux side."""

    def __init__(
        self, endpoint: Endpoint, settings: GatewaySettings, doorbell: Doorbell | None = None
    ) -> None:
        self.ep = endpoint
        self.settings = settings
        self.env = settings.envelope
        self.doorbell = doorbell or PollDoorbell()
        self.queue = CommandQueue(settings.envelope.max_pending)
        self.limiter = RateLimiter(settings.envelope.rate_per_s, settings.envelope.burst)
        self.inflight = InFlightTable(settings.envelope, settings.ack_grace_s)
        self.counters = dict.fromkeys(
            ("envelope_rejects", "rate_limited", "faults", "expired", "rx_short",
             "pings_answered"), 0,
        )  # fmt: skip
        self.rt_drops = messages.RtDrops(0, 0, 0, 0)
        self._seq_gap_seen = 0
        self._stats_base: dict[str, int] = {}
        self._started_s: float | None = None
        self._ever_linked = False
        self._next_ping_s = 0.0
        self._ping_rtt_ms = float("nan")

    # --- commands ------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Linked both ways and the RT heartbeat is moving."""
        return self.ep.linked and self.ep.peer_alive

    def _ack(
        self, p: Pending | RtosCommand, status: AckStatus, reason: str, trace: str = ""
    ) -> Out:
        cmd = p.cmd if isinstance(p, Pending) else p
        tr = p.trace if isinstance(p, Pending) else trace
        # at_ns: for ``accepted``, the moment the command went into the ring (just before)
        ack = RtosAck(cmd_id=cmd.cmd_id, status=status, reason=reason, at_ns=time.monotonic_ns())
        return Out("rtos.ack", ack, tr)

    def submit(self, cmd: RtosCommand, trace: str, now_s: float) -> Outgoing:
        """Admit ``cmd`` through the envelope into the send queue; returns rejections."""
        reason = check(cmd, self.env)
        if reason is None and (cmd.cmd_id in self.inflight or self._queued(cmd.cmd_id)):
            reason = (
                f"cmd_id {cmd.cmd_id} belongs to a command still in progress; give every "
                "command a new id."
            )
        if reason is None and not self.online:
            reason = _OFFLINE
        if reason is None and cmd.kind not in ALWAYS_ADMITTED and not self.limiter.allow(now_s):
            self.counters["rate_limited"] += 1
            reason = (
                f"Rate limit of {self.env.rate_per_s:g} commands/s (burst {self.env.burst}) "
                "exceeded; send fewer commands."
            )
        if reason is not None:
            self.counters["envelope_rejects"] += 1
            log.info("command_rejected cmd_id=%s kind=%s reason=%s", cmd.cmd_id, cmd.kind, reason)
            return [self._ack(cmd, "rejected", reason, trace)]
        displaced, refused = self.queue.put(Pending(cmd, trace, now_s))
        out: Outgoing = [self._ack(p, "rejected", why) for p, why in displaced]
        if refused is not None:
            out.append(self._ack(cmd, "rejected", refused, trace))
        return out + self._flush(now_s)

    def _queued(self, cmd_id: int) -> bool:
        return any(p.cmd.cmd_id == cmd_id for p in self.queue)

    def _flush(self, now_s: float) -> Outgoing:
        out: Outgoing = []
        kick = False
        for p in list(self.queue):
            age_ms = int((now_s - p.accepted_s) * 1000)
            urgent = p.cmd.kind in ALWAYS_ADMITTED
            if not urgent and age_ms >= p.cmd.ttl_ms:
                self.queue.remove(p)
                self.counters["expired"] += 1
                out.append(
                    self._ack(
                        p, "expired", "Its time to live ran out while waiting for ring space."
                    )
                )
                continue
            rtype, flags, payload = messages.encode_command(p.cmd, age_ms)
            try:
                rc = self.ep.send(rtype, payload, flags)
            except RingFault as exc:
                return out + self._on_fault(exc)
            if rc >= 0:
                kick |= rc == 1
                self.queue.remove(p)
                self.inflight.add(p.cmd, p.trace, now_s)
                out.append(self._ack(p, "accepted", ""))
            elif rc == ring.ENOLINK:
                self.queue.remove(p)
                out.append(self._ack(p, "rejected", _OFFLINE))
            elif rc == ring.EMSGSIZE:
                self.queue.remove(p)
                out.append(
                    self._ack(
                        p,
                        "rejected",
                        f"The command's {len(payload)} B payload is above the RT side's "
                        f"max_msg of {self.ep.peer_max_msg} B; raise its max_msg.",
                    )
                )
            else:  # EFULL: retried next step (TTL bounds the wait)
                p.tries += 1
                if urgent:
                    log.warning("urgent_command_waits cmd_id=%s", p.cmd.cmd_id)
        if kick:
            self.doorbell.kick()
        return out

    # --- the ring ------------------------------------------------------------------------

    def _link(self, state: LinkState, detail: str) -> Out:
        link = RtosLink(state=state, peer_epoch=self.ep.peer_epoch, detail=detail)
        return Out("rtos.link", link)

    def _on_fault(self, exc: RingFault) -> Outgoing:
        self.counters["faults"] += 1
        log.warning("link_fault code=%d detail=%s", exc.code, exc)
        out: Outgoing = [self._link("fault", f"{exc} Re-initialising with a new epoch.")]
        out += self._drop_pending()
        self._reinit()
        return out

    def _reinit(self) -> None:
        for k, v in self.ep.stats().items():  # the block's counters restart with it
            self._stats_base[k] = self._stats_base.get(k, 0) + v
        self._seq_gap_seen = 0
        self.ep.reinit()

    def _drop_pending(self) -> Outgoing:
        return [self._ack(p, "rejected", _OFFLINE) for p in self.queue.clear()]

    def _events(self, ev: int) -> Outgoing:
        out: Outgoing = []
        epoch = f"{self.ep.peer_epoch:016x}"
        if ev & ring.EV_REFUSED:
            self.counters["faults"] += 1
            out.append(
                self._link(
                    "fault",
                    "The RT side's block was refused (magic, major version or geometry): our "
                    "endpoint is FAULT until the RT side changes; check that both sides use "
                    "IVMR v1 and agree on the Linux ring's capacity.",
                )
            )
            out += self._drop_pending()
        if ev & ring.EV_RETRY:
            log.info("link_retry detail=the refused RT side changed; re-initialising")
            self._reinit()
        if ev & ring.EV_PEER_RESTARTED:
            out.append(
                self._link(
                    "restarted",
                    f"The RT side restarted (new epoch {epoch}); the backlogs were dropped.",
                )
            )
        if ev & ring.EV_PEER_DEAD:
            out.append(
                self._link(
                    "down",
                    "No heartbeat from the RT side for 5 periods: commands are rejected until "
                    "it is back; it stops the motors on its own when it loses ours.",
                )
            )
            out += self._drop_pending()
        elif ev & ring.EV_LINK_DOWN and not ev & (ring.EV_PEER_RESTARTED | ring.EV_REFUSED):
            out.append(self._link("down", "The RT side stopped or is re-initialising."))
            out += self._drop_pending()
        if (ev & (ring.EV_LINK_UP | ring.EV_PEER_ALIVE)) and self.online:
            out.append(self._link("up", f"Linked to the RT side (epoch {epoch})."))
        return out

    def step(self, now_s: float) -> Outgoing:
        """One poll period: session events, inbound records, pending commands, deadlines."""
        self.doorbell.drain()
        out = self._events(self.ep.poll(int(now_s * 1000)))
        out += self._watch(now_s)
        out += self._receive(now_s)
        if len(self.queue):
            out += self._flush(now_s)
        if len(self.inflight):
            out += self.inflight.on_clock(now_s, self.rt_drops.ack_drops)
        return out

    @property
    def wake_fd(self) -> int | None:
        """Readable when the RT side rings our doorbell (None: no doorbell, poll)."""
        return self.doorbell.fileno()

    def prepare_wait(self) -> bool:
        """Before blocking on the bus and :attr:`wake_fd`: arm the ring (the RT side rings only
        an armed reader, spec section 4). False: records are already pending, do not block."""
        return not self.ep.arm()

    def on_wake(self, now_s: float) -> Outgoing:
        """After the wait (woken by the doorbell or not): disarm, drain the doorbell, then the
        ring; the session poll (:meth:`step`) stays periodic."""
        self.ep.disarm()
        self.doorbell.drain()
        return self._receive(now_s)

    def _receive(self, now_s: float) -> Outgoing:
        out: Outgoing = []
        while True:
            try:
                records = self.ep.recv_many(256)
            except RingFault as exc:
                return out + self._on_fault(exc)
            for rec in records:
                out += self._inbound(rec, now_s)
            if len(records) < 256:
                break
        gaps = self.ep.stats()["rx_seq_gap"]
        if gaps != self._seq_gap_seen:
            log.warning("rt_records_lost count=%d total=%d", gaps - self._seq_gap_seen, gaps)
            self._seq_gap_seen = gaps
        return out

    def _watch(self, now_s: float) -> Outgoing:
        """The attach timeout warning, and the periodic end-to-end PING."""
        if self._started_s is None:
            self._started_s = now_s
        if self.online:
            self._ever_linked = True
            # only into a ring with room: a probe must never crowd out or reject a command
            if now_s >= self._next_ping_s and self.ep.tx_free() >= self.ep.capacity // 4:
                self._next_ping_s = now_s + self.settings.ping_every_s
                token = struct.pack("<Q", time.monotonic_ns())
                with contextlib.suppress(RingFault):  # a fault shows on the next receive
                    self.ep.send(messages.MSG_PING, token)
        elif not self._ever_linked and now_s - self._started_s >= self.settings.attach_timeout_s:
            self._ever_linked = True  # warn once
            return [
                self._link(
                    "down",
                    f"No RT side has linked to {self.settings.region} within "
                    f"{self.settings.attach_timeout_s:g} s; check that rtapp (or the RT-Thread "
                    "app) runs on the same region with the same capacity.",
                )
            ]
        return []

    def _inbound(self, rec: ring.Record, now_s: float) -> Outgoing:
        try:
            if rec.rtype == messages.MSG_TELEMETRY:
                return self._telemetry(rec.payload)
            if rec.rtype == messages.MSG_ACK:
                ack = messages.decode_ack(rec.payload)
                ack = ack.model_copy(update={"at_ns": time.monotonic_ns()})  # read from the ring
                return self.inflight.on_ack(ack, now_s)
        except messages.PayloadError as exc:
            self.counters["rx_short"] += 1
            log.warning("payload_short type=%#x detail=%s", rec.rtype, exc)
            return []
        if rec.rtype == messages.MSG_HELLO:
            log.info("rt_hello build=%s", rec.payload[8:32].rstrip(b"\0").decode(errors="replace"))
        elif rec.rtype == messages.MSG_PING and len(rec.payload) >= 8:
            self.counters["pings_answered"] += 1
            with contextlib.suppress(RingFault):  # a fault shows on the next receive
                if self.ep.send(messages.MSG_PONG, rec.payload[:8], layout.FLAG_IS_REPLY) == 1:
                    self.doorbell.kick()
        elif rec.rtype == messages.MSG_PONG and len(rec.payload) >= 8:
            sent_ns = struct.unpack_from("<Q", rec.payload)[0]
            self._ping_rtt_ms = (time.monotonic_ns() - sent_ns) / 1e6
        else:  # section 3: unknown types (and a PING/PONG without its token) are counted
            self.ep.count_unknown()
        return []

    def _telemetry(self, payload: bytes) -> Outgoing:
        tlm = messages.decode_telemetry(payload)
        out: Outgoing = [Out("rtos.telemetry", tlm, "")]
        drops = messages.decode_drops(payload)
        if drops is not None:
            if drops.ack_drops > self.rt_drops.ack_drops:
                log.warning(
                    "rt_acks_dropped count=%d total=%d",
                    drops.ack_drops - self.rt_drops.ack_drops,
                    drops.ack_drops,
                )
            self.rt_drops = drops
        return out + self.inflight.on_telemetry(tlm.active_cmd_id)

    def metrics(self) -> dict[str, float]:
        """Ring counters (our block) and envelope counters, by metric name."""
        m: dict[str, float] = {
            f"rtgw.{k}": float(v + self._stats_base.get(k, 0)) for k, v in self.ep.stats().items()
        }
        m.update({f"rtgw.{k}": float(v) for k, v in self.counters.items()})
        m.update({f"rtgw.{k}": float(v) for k, v in self.inflight.counts.items()})
        m.update({f"rtgw.rt_{k}": float(v) for k, v in self.rt_drops._asdict().items()})
        m["rtgw.in_flight"] = float(len(self.inflight))
        m["rtgw.online"] = float(self.online)
        if self._ping_rtt_ms == self._ping_rtt_ms:  # not NaN: a PONG came back
            m["rtgw.ping_rtt_ms"] = self._ping_rtt_ms
        return m

    def close(self) -> None:
        """Mark our endpoint OFF (the RT side stops the motors) and release the doorbell."""
        self.ep.shutdown()
        self.doorbell.close()
