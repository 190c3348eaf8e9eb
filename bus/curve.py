"""CURVE keys for ``tcp://`` endpoints: generation (CLI) and loading.

Keys are ZeroMQ certificate files: ``NAME.key`` holds the public key (safe to copy to the other
board), ``NAME.key_secret`` the public and secret key (keep it private, mode 0600).

    python -m bus.curve keygen DIR NAME    # writes DIR/NAME.key and DIR/NAME.key_secret

The proxy (server) needs its own ``.key_secret`` and a directory with the ``.key`` files of the
clients it admits; a client needs its own ``.key_secret`` and the server's ``.key``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import zmq
import zmq.auth

from bus.errors import ConfigError

__all__ = ["apply_client", "generate", "load_public", "load_secret", "main"]


def generate(directory: Path, name: str) -> tuple[Path, Path]:
    """Write a new key pair; return (public file, secret file)."""
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(directory), name)
    os.chmod(secret, 0o600)
    return Path(public), Path(secret)


def _load(path: Path, want_secret: bool) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise ConfigError(
            f"CURVE key file {path} does not exist; create keys with "
            f"'python -m bus.curve keygen DIR NAME'."
        )
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except Exception as exc:  # pyzmq raises ValueError/OSError for bad files
        raise ConfigError(f"CURVE key file {path} cannot be read: {exc}") from exc
    if want_secret and not secret:
        raise ConfigError(
            f"CURVE key file {path} has no secret key; give the '.key_secret' file here."
        )
    return public, secret


def load_public(path: Path) -> bytes:
    """The public key in a ``.key`` (or ``.key_secret``) file."""
    return _load(path, want_secret=False)[0]


def load_secret(path: Path) -> tuple[bytes, bytes]:
    """(public, secret) from a ``.key_secret`` file."""
    public, secret = _load(path, want_secret=True)
    assert secret is not None
    return public, secret


def apply_client(sock: zmq.Socket, client_secret: Path, server_public: Path) -> None:
    """Make ``sock`` a CURVE client of the server whose public key is in ``server_public``."""
    public, secret = load_secret(client_secret)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = load_public(server_public)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bus.curve", description="Manage CURVE keys for tcp:// bus endpoints."
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    kg = sub.add_parser("keygen", help="write DIR/NAME.key (public) and DIR/NAME.key_secret")
    kg.add_argument("dir", type=Path)
    kg.add_argument("name")
    args = parser.parse_args(argv)
    public, secret = generate(args.dir, args.name)
    print(f"public key: {public}\nsecret key: {secret} (keep private)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
