"""Finding the manifest of a worker entry, before anything starts.

Where a worker's :class:`~bus.manifest.Manifest` comes from, in order:

1. ``manifest: MODULE`` or ``manifest: MODULE:ATTRIBUTE`` in its entry: ``MANIFEST`` (or the
   attribute) of that module, imported with the worker's ``cwd`` first on the import path (an
   out-of-tree worker keeps it beside its code: ``spotter_manifest.py`` of the keyword spotter);
2. ``manifest: {kind, summary, consumes, produces, link}``: the dataflow declared in place (a
   command such as ``rtos/build/rtapp``; its settings, if any, are not checked);
3. for ``module: PACKAGE`` (every worker under ``workers/``): ``PACKAGE.manifest``.

Anything else is refused with a sentence saying how to add one. A manifest module imports only
models (``schemas``, the settings class), so this stays fast; what it registers (``ext.*``
topics) is registered in the supervisor too, so that the topics can be checked.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

from bus.manifest import Manifest, ManifestError, Topics
from schemas.base import Message
from schemas.registry import registry
from supervision.errors import ConfigError
from supervision.workerspec import Declaration, WorkerSpec

__all__ = ["ManifestNotFound", "declared_manifest", "import_manifest", "manifest_of"]

_GUIDE = "docs/writing-a-worker.md"


class ManifestNotFound(ConfigError):
    """A worker entry whose manifest cannot be found or imported; the message says what to do."""


@contextlib.contextmanager
def _import_path(cwd: Path | None) -> Iterator[None]:
    """``cwd`` first on ``sys.path`` for the duration (an out-of-tree worker's folder)."""
    if cwd is None:
        yield
        return
    entry = str(cwd)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def import_manifest(ref: str, cwd: Path | None = None) -> Manifest:
    """The manifest named by ``MODULE`` or ``MODULE:ATTRIBUTE``, imported from ``cwd``."""
    module_name, _, attr = ref.partition(":")
    attr = attr or "MANIFEST"
    with _import_path(cwd):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            where = f" (looked in {cwd} and the project)" if cwd else ""
            raise ManifestNotFound(
                f"cannot import the manifest module {module_name!r}{where}: {exc}"
            ) from exc
        except Exception as exc:  # its own error (a bad model, a refused topic): say which
            raise ManifestNotFound(
                f"importing the manifest module {module_name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
    manifest = getattr(module, attr, None)
    if not isinstance(manifest, Manifest):
        raise ManifestNotFound(
            f"{module_name} has no {attr} = Manifest(...) (found {type(manifest).__name__}); "
            f"define it there (see {_GUIDE})"
        )
    return manifest


def _is_package(module: str, cwd: Path | None) -> bool | None:
    """True for a package, False for a plain module, None if it cannot be found."""
    with _import_path(cwd):
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
    if spec is None:
        return None
    return spec.submodule_search_locations is not None


def manifest_of(spec: WorkerSpec, cwd: Path | None) -> Manifest:
    """The manifest of one worker entry (see the module docstring); ``cwd`` is resolved."""
    if isinstance(spec.manifest, Declaration):
        return declared_manifest(spec.manifest)
    if spec.manifest is not None:
        return import_manifest(spec.manifest, cwd)
    if spec.module is None:
        raise ManifestNotFound(
            "a command declares its dataflow in the config: add 'manifest: {kind: stage, "
            "summary: ..., consumes: [...], produces: [...]}' to its entry (kind is source, "
            "stage, sink or gateway; see docs/supervisor.md)"
        )
    package = _is_package(spec.module, cwd)
    if package is None:
        where = f" from {cwd}" if cwd else ""
        raise ManifestNotFound(
            f"no module named {spec.module!r} can be imported{where}; check 'module' (and 'cwd')"
        )
    if not package:
        parent, _, stem = spec.module.rpartition(".")
        ref = f"{parent}.{stem}_manifest" if parent else f"{stem}_manifest"
        raise ManifestNotFound(
            f"module {spec.module} has no manifest: put MANIFEST = Manifest(kind=..., "
            f"consumes=..., produces=..., settings=...) in a light module beside it (e.g. "
            f"{stem}_manifest.py) and name it in the entry with 'manifest: {ref}' (see {_GUIDE})"
        )
    if _is_package(f"{spec.module}.manifest", cwd) is None:
        raise ManifestNotFound(
            f"package {spec.module} has no manifest module: add "
            f"{spec.module.replace('.', '/')}/manifest.py with MANIFEST = Manifest(kind=..., "
            f"consumes=..., produces=..., settings=...) (see {_GUIDE})"
        )
    return import_manifest(f"{spec.module}.manifest", cwd)


def _models(topics: tuple[str, ...], direction: str) -> Topics:
    out: dict[str, type[Message]] = {}
    for topic in topics:
        model = registry.model_for(topic)
        if model is None and not any(c in topic for c in "*?["):
            raise ManifestError(
                f"{direction} {topic!r}, which is not a registered topic; check its spelling "
                "(an ext.* topic is registered by the manifest of the worker that owns it)"
            )
        out[topic] = model or Message
    return out


def declared_manifest(decl: Declaration) -> Manifest:
    """A :class:`Manifest` from a dataflow declared in the config (models from the registry)."""
    return Manifest(
        kind=decl.kind,
        summary=decl.summary,
        consumes=_models(decl.consumes, "consumes"),
        produces=_models(decl.produces, "produces"),
    )
