"""Who reads the bus: the proxy's count of its subscriber connections, for shared memory.

A publisher may carry a large raw field through shared memory only while every reader can read
its machine's rings (``docs/protocol.md`` section 9): a reader that cannot refuses the message.
The proxy sees both halves of that question:

- its subscriber connections, from the XPUB socket's monitor (accepted and disconnected, each
  with its file descriptor and the endpoint it came in on);
- how many of them said they read the rings: each subscription to
  :data:`bus.connect.SHM_READER` and each unsubscription from it (the XPUB socket passes every
  one of them on with ``ZMQ_XPUB_VERBOSER``; a connection that goes unsubscribes by itself).

:class:`ReaderCount` keeps the two; the proxy publishes its :meth:`~ReaderCount.state` on
``sys.bus`` (:class:`schemas.system.BusReaders`) whenever it changes and with its counters, and
publishers read it (:mod:`bus.shmgate`). A connection on a ``tcp://`` endpoint always counts
against shared memory: another machine may be behind it. A new reader is counted when it
connects and its subscription comes a moment later, so the state says "no" in between; a
publisher then sends the payload in its ZeroMQ frame, which every reader reads.
"""

from __future__ import annotations

import zmq
from zmq.utils.monitor import recv_monitor_message

from schemas.system import BusReaders

__all__ = ["MONITOR_EVENTS", "PROXY_NAME", "ReaderCount", "monitor"]

#: The name the proxy publishes under (``src`` of ``sys.bus`` and of its metrics): publishers
#: believe ``sys.bus`` only from it.
PROXY_NAME = "bus-proxy"

#: The monitor events the count needs.
MONITOR_EVENTS = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED


def monitor(sock: zmq.Socket) -> zmq.Socket:
    """A PAIR socket that receives ``sock``'s :data:`MONITOR_EVENTS`, its queue unbounded.

    libzmq sends each event with a blocking send on its own PAIR socket (``monitor_event`` in
    ``src/socket_base.cpp``), from the I/O thread that accepted or lost the connection. With
    pyzmq's ``get_monitor_socket`` the queue holds the default high-water marks' 2000 events: a
    burst of more connections than that would stall the proxy's I/O thread, and with it every
    message it forwards, until the loop had read the queue. Events are never dropped either
    way; with a receive high-water mark of 0 on this end of the inproc pipe (libzmq then makes
    the pipe unbounded) they are not held up either.
    """
    addr = f"inproc://voicebus-monitor-{id(sock):x}"
    sock.monitor(addr, MONITOR_EVENTS)
    mon = sock.context.socket(zmq.PAIR)
    mon.setsockopt(zmq.RCVHWM, 0)
    mon.setsockopt(zmq.LINGER, 0)
    mon.connect(addr)
    return mon


class ReaderCount:
    """The proxy's subscriber connections and how many of them read shared memory."""

    def __init__(self) -> None:
        self._remote: dict[int, bool] = {}  # file descriptor -> on a tcp:// endpoint
        self.marked = 0
        """Subscriptions to :data:`~bus.connect.SHM_READER`, less unsubscriptions from it."""

    def on_event(self, event: int, fd: int, endpoint: str) -> None:
        """Take one monitor event of the XPUB socket."""
        if event == zmq.EVENT_ACCEPTED:
            self._remote[fd] = endpoint.startswith("tcp://")
        elif event == zmq.EVENT_DISCONNECTED:
            self._remote.pop(fd, None)

    def read_monitor(self, mon: zmq.Socket) -> None:
        """Take every event waiting on ``mon`` (the XPUB socket's monitor)."""
        while mon.poll(0):
            msg = recv_monitor_message(mon)
            raw = msg["endpoint"]
            endpoint = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            self.on_event(int(msg["event"]), int(msg["value"]), endpoint)

    def state(self) -> BusReaders:
        """What ``sys.bus`` says now."""
        readers = len(self._remote)
        remote = sum(self._remote.values())
        return BusReaders(
            shm=remote == 0 and self.marked >= readers,
            readers=readers,
            shm_readers=self.marked,
            remote_readers=remote,
        )
