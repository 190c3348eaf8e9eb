"""The private runtime directory: ipc sockets, the control socket and the bus address file.

It is ``$VOICEBUS_RUNTIME_DIR`` if set, else ``$XDG_RUNTIME_DIR/voicebus``, else
``/tmp/voicebus-<uid>``; created with mode 0700 and refused if another user owns it or others can
enter it, because anyone who can reach the sockets can speak on the bus.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bus.errors import ConfigError

__all__ = ["ENV_RUNTIME_DIR", "default_runtime_dir", "ensure_private_dir"]

ENV_RUNTIME_DIR = "VOICEBUS_RUNTIME_DIR"


def default_runtime_dir() -> Path:
    """Where the running supervisor keeps its sockets (not created here)."""
    explicit = os.environ.get(ENV_RUNTIME_DIR)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "voicebus"
    return Path(f"/tmp/voicebus-{os.getuid()}")


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` with mode 0700, or check that an existing one is private to us."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise ConfigError(
            f"Runtime directory {path} belongs to uid {st.st_uid}, not to us; "
            f"set {ENV_RUNTIME_DIR} to a directory of our own."
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path
