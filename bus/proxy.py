"""The bus: one XSUB/XPUB proxy process, the fixed point every node connects to.

    python -m bus.proxy --xsub ipc:///run/vb/pub --xpub ipc:///run/vb/sub
    python -m bus.proxy --xsub tcp://0.0.0.0:5550 --xpub tcp://0.0.0.0:5551 \\
        --server-secret keys/bus.key_secret --clients-dir keys/clients

Publishers connect to the XSUB side, subscribers to the XPUB side; the proxy forwards messages
one way and subscriptions the other (:mod:`bus.forwarder`), without copying them, and drops a
message over the limits of ``docs/protocol.md`` before any subscriber sees it (counted, logged,
and published as its own ``sys.metric`` ``proxy_refused_total``). Each subscriber has its own
queue on the XPUB side, so a slow subscriber (a tap) loses its own messages, nobody else's.

A frame over ``WIRE_LIMIT_BYTES`` is not even read: ZeroMQ (``ZMQ_MAXMSGSIZE`` on the XSUB side)
closes that publisher's connection, which loses what it had in flight; the publisher reconnects
by itself. Below that, refusing is done here so the next message of the same publisher is
delivered as usual.

When any endpoint is ``tcp://`` the proxy requires CURVE on every endpoint: clients must present
a public key found in ``--clients-dir`` (ZAP); others are refused and receive nothing.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import zmq
import zmq.auth.thread

from bus import curve
from bus.busreaders import monitor
from bus.errors import ConfigError
from bus.forwarder import Forwarder, ProxyStats
from bus.framecheck import MAX_RAW_BYTES

__all__ = ["WIRE_LIMIT_BYTES", "Proxy", "main"]

log = logging.getLogger(__name__)

#: Frames larger than this are cut at the wire (memory guard); smaller ones over the protocol's
#: limits are received, counted and dropped whole by the forwarder.
WIRE_LIMIT_BYTES = 2 * MAX_RAW_BYTES


class Proxy:
    """XSUB/XPUB forwarder running in a background thread."""

    def __init__(
        self,
        xsub: list[str],
        xpub: list[str],
        *,
        server_secret: Path | None = None,
        clients_dir: Path | None = None,
        hwm: int = 100_000,
        report_s: float = 10.0,
        native: bool | None = None,
    ) -> None:
        """``native``: the C forwarding loop required (True), never (False), or if built."""
        if not xsub or not xpub:
            raise ConfigError("The proxy needs at least one --xsub and one --xpub endpoint.")
        uses_tcp = any(ep.startswith("tcp://") for ep in (*xsub, *xpub))
        if uses_tcp and (server_secret is None or clients_dir is None):
            raise ConfigError(
                "A tcp:// bus endpoint needs CURVE: give --server-secret (the proxy's "
                ".key_secret) and --clients-dir (public keys of admitted clients). "
                "Create them with 'python -m bus.curve keygen DIR NAME'."
            )
        if server_secret is not None and (clients_dir is None or not clients_dir.is_dir()):
            raise ConfigError(f"CURVE clients directory {clients_dir} does not exist.")
        self._endpoints = [*xsub, *xpub]
        self._ctx = zmq.Context()
        self._auth: zmq.auth.thread.ThreadAuthenticator | None = None
        self._sockets: list[zmq.Socket] = []
        self._monitor: zmq.Socket | None = None
        try:
            if server_secret is not None:
                self._auth = zmq.auth.thread.ThreadAuthenticator(self._ctx)
                self._auth.start()
                self._auth.configure_curve(domain="*", location=str(clients_dir))
            self._keys = curve.load_secret(server_secret) if server_secret else None
            self._frontend = self._bind(zmq.XSUB, xsub, hwm, max_frame=WIRE_LIMIT_BYTES)
            self._backend = self._bind(zmq.XPUB, xpub, hwm)
            self._control_addr = f"inproc://proxy-control-{id(self)}"
            self._control = self._ctx.socket(zmq.PAIR)
            self._sockets.append(self._control)
            self._control.bind(self._control_addr)
            self._forwarder = Forwarder(
                self._frontend, self._backend, report_s, native, self._monitor
            )
        except BaseException:
            self._release()
            raise
        self._thread = threading.Thread(target=self._run, name="bus-proxy", daemon=True)

    def _bind(self, kind: int, endpoints: list[str], hwm: int, max_frame: int = -1) -> zmq.Socket:
        sock = self._ctx.socket(kind)
        self._sockets.append(sock)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, max_frame)
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
        if self._keys is not None:
            sock.curve_server = True
            sock.curve_publickey, sock.curve_secretkey = self._keys
        if kind == zmq.XPUB:
            # every (un)subscription passed on, so each reader's SHM_READER is counted; the
            # monitor started before binding, so no connection is made unseen (bus.busreaders)
            sock.setsockopt(zmq.XPUB_VERBOSER, 1)
            self._monitor = monitor(sock)
            self._sockets.append(self._monitor)
        for ep in endpoints:
            try:
                sock.bind(ep)
            except zmq.ZMQError as exc:
                raise ConfigError(f"The proxy cannot bind {ep}: {exc}") from exc
        return sock

    def start(self) -> None:
        """Start forwarding."""
        self._thread.start()

    @property
    def stats(self) -> ProxyStats:
        """What the proxy forwarded and refused so far."""
        return self._forwarder.stats

    @property
    def native(self) -> bool:
        """True when the forwarding loop is the C one."""
        return self._forwarder.native is not None

    def _run(self) -> None:
        ctl = self._ctx.socket(zmq.PAIR)
        ctl.connect(self._control_addr)
        try:
            self._forwarder.run(ctl)
        except zmq.ContextTerminated:
            pass
        finally:
            ctl.close(linger=0)

    def stop(self) -> None:
        """Stop forwarding and close every socket (ipc socket files are removed)."""
        if self._thread.is_alive():
            self._control.send(b"TERMINATE")
            self._thread.join(timeout=5)
        self._release()

    def _release(self) -> None:
        for sock in self._sockets:
            sock.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()
        for ep in self._endpoints:
            if ep.startswith("ipc://"):
                Path(ep[len("ipc://") :]).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Run the proxy until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m bus.proxy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--xsub", action="append", required=True, help="endpoint for publishers")
    parser.add_argument("--xpub", action="append", required=True, help="endpoint for subscribers")
    parser.add_argument("--server-secret", type=Path, help="proxy's CURVE .key_secret file")
    parser.add_argument("--clients-dir", type=Path, help="directory of admitted clients' .key")
    parser.add_argument(
        "--forwarder",
        choices=("auto", "native", "python"),
        default="auto",
        help="the forwarding loop: C (native, built by 'make -C bus/native'), Python, or the C "
        "one when built (auto, the default)",
    )
    parser.add_argument(
        "--report-s",
        type=float,
        default=10.0,
        help="period of the proxy's own sys.metric counters, s (default 10)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s bus-proxy: %(message)s"
    )
    try:
        proxy = Proxy(
            args.xsub,
            args.xpub,
            server_secret=args.server_secret,
            clients_dir=args.clients_dir,
            report_s=args.report_s,
            native={"auto": None, "native": True, "python": False}[args.forwarder],
        )
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    proxy.start()
    log.info(
        "proxy_started xsub=%s xpub=%s curve=%s forwarder=%s",
        args.xsub,
        args.xpub,
        args.server_secret is not None,
        "native" if proxy.native else "python",
    )
    while not done.wait(0.5):
        pass
    proxy.stop()
    st = proxy.stats
    log.info("proxy_stopped forwarded=%d refused=%d", st.forwarded, st.refused_total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
