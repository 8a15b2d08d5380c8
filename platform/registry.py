"""The model registry: versioned, checksummed artifacts that trainers write and servers
read and hot-swap.

Layout under one root (``registry.root`` in the config)::

    <root>/<name>/<version>/...            the artifact's files (a SavedModel, npz, json)
    <root>/<name>/<version>/manifest.json  name, version, kind, created, data window and
                                           fingerprint, metrics, sha256 of every file
    <root>/<name>/PROMOTED                 JSON: the promoted version, the promotion
                                           stack (for rollback) and an audit log

Versions are ``v0001``, ``v0002``, ... in publication order. Every write is atomic:

- ``publish`` copies into ``<root>/<name>/.tmp-<uuid>/``, writes the manifest last and
  renames the folder to its version; a rename onto an existing (non-empty) version fails
  on POSIX, so two concurrent publishers never share a version and a reader listing
  ``versions`` never sees a half-written one (temporary folders start with ``.``);
- ``PROMOTED`` is written to a temporary file and ``os.replace``-d; read-modify-writes
  of it (promote, rollback) hold an ``fcntl`` lock on ``<root>/<name>/.lock``.

Serving: ``load_promoted(name, loader, smoke_test)`` verifies checksums, loads with the
caller's ``loader(path)`` and runs ``smoke_test(model)``; any failure raises
``ArtifactRefused``. ``LiveModel`` wraps it for a server: ``current()`` is the model in
service, ``refresh()`` swaps to a newly promoted version only when it loads and passes
its smoke test, and otherwise keeps serving the old one (``last_error`` says why).

Library code receives the root explicitly (``Registry(root)``); the ``encore models``
CLI takes it from the config. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from encore.platform.checksums import sha256_file

MANIFEST = "manifest.json"
PROMOTED = "PROMOTED"
_LOCK = ".lock"
_VERSION_RE = re.compile(r"^v(\d{4,})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

T = TypeVar("T")


class RegistryError(Exception):
    """A registry operation cannot be done (unknown name or version, nothing to roll
    back to, a bad name)."""


class ChecksumError(RegistryError):
    """An artifact's files do not match its manifest; ``path`` names the file."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class ArtifactRefused(RegistryError):
    """``load_promoted`` refused a version: bad checksum, a loader error or a failed
    smoke test. The cause is chained (``__cause__``)."""

    def __init__(self, name: str, version: str, reason: str) -> None:
        super().__init__(f"model {name} {version} refused: {reason}")
        self.name, self.version, self.reason = name, version, reason


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` holds. ``data_window`` is free-form JSON (a trainer puts
    e.g. ``{"train": [first, last], "eval": [first, last]}`` dates); ``files`` maps each
    file's POSIX path relative to the version folder to its sha256."""

    name: str
    version: str
    kind: str
    created: str
    data_window: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "kind": self.kind, "created": self.created,
            "data_window": self.data_window, "data_fingerprint": self.data_fingerprint,
            "metrics": self.metrics, "files": self.files, "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Manifest":
        return cls(**{k: data[k] for k in (
            "name", "version", "kind", "created", "data_window", "data_fingerprint",
            "metrics", "files", "extra") if k in data})


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A verified, loaded artifact: what ``load_promoted`` returns and ``LiveModel``
    serves."""

    name: str
    version: str
    path: Path
    manifest: Manifest
    model: T


# ----------------------------------------------------------------------------- helpers


def _files_of(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST:
            yield path


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (but its manifest), by relative POSIX path."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in _files_of(folder)}


def data_fingerprint(files: Mapping[str, str | os.PathLike[str]]) -> str:
    """One sha256 over data files given as ``{logical name: path}`` (e.g.
    ``"ranking_samples/date=2026-01-05/part-00000.parquet"``): names and contents,
    sorted by name, so the same inputs give the same fingerprint wherever they live."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + sha256_file(Path(files[name])).encode() + b"\n")
    return digest.hexdigest()


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version_number(version: str) -> int:
    match = _VERSION_RE.match(version)
    if not match:
        raise RegistryError(f"bad version {version!r} (expected v0001, v0002, ...)")
    return int(match.group(1))


# ----------------------------------------------------------------------------- registry
class Registry:
    """Versioned artifacts under ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading
    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME_RE.match(p.name))

    def versions(self, name: str) -> list[str]:
        """Published versions of ``name``, oldest first (only complete ones)."""
        folder = self._folder(name)
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if p.is_dir() and _VERSION_RE.match(p.name)]
        return sorted(found, key=_version_number)

    def path(self, name: str, version: str) -> Path:
        path = self._folder(name) / version
        _version_number(version)
        if not (path / MANIFEST).is_file():
            raise RegistryError(f"model {name} has no version {version} under {self.root}")
        return path

    def manifest(self, name: str, version: str) -> Manifest:
        return Manifest.from_json(json.loads((self.path(name, version) / MANIFEST).read_text()))

    def promotion(self, name: str) -> dict[str, Any]:
        """The parsed ``PROMOTED`` file: ``{"current", "stack", "log"}`` (empty when
        nothing was ever promoted)."""
        path = self._folder(name) / PROMOTED
        if not path.is_file():
            return {"current": None, "stack": [], "log": []}
        return json.loads(path.read_text())

    def promoted(self, name: str) -> str | None:
        """The promoted version of ``name``, or None."""
        return self.promotion(name)["current"]

    def verify(self, name: str, version: str) -> Manifest:
        """Check every file of a version against its manifest; raise ``ChecksumError``
        naming the first missing, changed or unexpected file."""
        folder = self.path(name, version)
        manifest = self.manifest(name, version)
        for rel, expected in sorted(manifest.files.items()):
            path = folder / rel
            if not path.is_file():
                raise ChecksumError(f"model {name} {version}: file {rel} is missing", path)
            actual = sha256_file(path)
            if actual != expected:
                raise ChecksumError(
                    f"model {name} {version}: file {rel} has sha256 {actual[:12]}..., "
                    f"the manifest says {expected[:12]}...", path)
        for path in _files_of(folder):
            rel = path.relative_to(folder).as_posix()
            if rel not in manifest.files:
                raise ChecksumError(f"model {name} {version}: unexpected file {rel}", path)
        return manifest

    # -- writing
    def publish(
        self, name: str, src_dir: str | os.PathLike[str], *, kind: str,
        data_window: Mapping[str, Any] | None = None, data_fingerprint: str = "",
        metrics: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Copy ``src_dir`` into the next version of ``name`` with a manifest; returns
        the version. Atomic: readers see the whole version or none of it."""
        src = Path(src_dir)
        if not src.is_dir():
            raise RegistryError(f"cannot publish {name}: {src} is not a folder")
        if (src / MANIFEST).exists():
            raise RegistryError(f"cannot publish {name}: {src} already holds a {MANIFEST}")
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{uuid.uuid4().hex}"
        try:
            shutil.copytree(src, tmp)
            files = checksums(tmp)
            while True:
                existing = self.versions(name)
                number = _version_number(existing[-1]) + 1 if existing else 1
                version = f"v{number:04d}"
                manifest = Manifest(
                    name=name, version=version, kind=kind, created=_now(),
                    data_window=dict(data_window or {}), data_fingerprint=data_fingerprint,
                    metrics=dict(metrics or {}), files=files, extra=dict(extra or {}),
                )
                _write_json_atomic(tmp / MANIFEST, manifest.to_json())
                try:
                    os.rename(tmp, folder / version)
                    return version
                except OSError as err:  # another publisher took this version: next one
                    if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def promote(self, name: str, version: str, *, verify: bool = True) -> None:
        """Make ``version`` the one servers load (checked first unless ``verify=False``)."""
        if verify:
            self.verify(name, version)
        else:
            self.path(name, version)
        with self._locked(name):
            state = self.promotion(name)
            stack = [v for v in state["stack"] if v != version] + [version]
            self._write_promotion(name, state, stack, "promote", version)

    def rollback(self, name: str) -> str:
        """Return to the previously promoted version (the one before the current one on
        the promotion stack); returns it. Raises RegistryError when there is none."""
        with self._locked(name):
            state = self.promotion(name)
            stack = list(state["stack"])
            if len(stack) < 2:
                raise RegistryError(f"model {name}: no earlier promoted version to roll back to")
            stack.pop()
            self._write_promotion(name, state, stack, "rollback", stack[-1])
            return stack[-1]

    # -- serving
    def load_promoted(
        self, name: str, loader: Callable[[Path], T],
        smoke_test: Callable[[T], Any] | None = None, *, version: str | None = None,
    ) -> Loaded[T]:
        """Verify, load and smoke-test the promoted version (or ``version``).

        ``smoke_test(model)`` fails by raising or by returning False. Raises
        ``RegistryError`` when nothing is promoted and ``ArtifactRefused`` on any
        failure of the chosen version.
        """
        version = version or self.promoted(name)
        if version is None:
            raise RegistryError(f"model {name}: no version is promoted under {self.root}")
        try:
            manifest = self.verify(name, version)
        except RegistryError as err:
            raise ArtifactRefused(name, version, str(err)) from err
        path = self.path(name, version)
        try:
            model = loader(path)
        except Exception as err:  # noqa: BLE001 - any loader failure refuses the artifact
            raise ArtifactRefused(name, version, f"loader failed: {err!r}") from err
        if smoke_test is not None:
            try:
                ok = smoke_test(model)
            except Exception as err:  # noqa: BLE001
                raise ArtifactRefused(name, version, f"smoke test failed: {err!r}") from err
            if ok is False:
                raise ArtifactRefused(name, version, "smoke test returned False")
        return Loaded(name=name, version=version, path=path, manifest=manifest, model=model)

    # -- internals
    def _folder(self, name: str) -> Path:
        if not _NAME_RE.match(name):
            raise RegistryError(f"bad model name {name!r}")
        return self.root / name

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / _LOCK, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _write_promotion(self, name: str, state: dict, stack: list[str], action: str, version: str) -> None:
        log = list(state.get("log", [])) + [{"action": action, "version": version, "at": _now()}]
        _write_json_atomic(self._folder(name) / PROMOTED, {"current": stack[-1], "stack": stack, "log": log})


# ----------------------------------------------------------------------------- hot swap
class LiveModel(Generic[T]):
    """The model a server answers with, swapped atomically on a new promotion.

    ``refresh()`` reads ``PROMOTED``; when it names a version other than the one in
    service it loads it through ``Registry.load_promoted`` and swaps only on success.
    A refused version is remembered (``refused``, ``last_error``) and not retried until
    the promotion changes again, so a poll loop does not reload a broken artifact every
    few seconds. ``current()`` never blocks on a load: readers get whichever ``Loaded``
    was in service when they asked (a single reference assignment swaps it).
    ``start(interval_s)`` polls in a daemon thread; ``stop()`` ends it.
    """

    def __init__(self, registry: Registry, name: str, loader: Callable[[Path], T],
                 smoke_test: Callable[[T], Any] | None = None) -> None:
        self.registry, self.name = registry, name
        self._loader, self._smoke_test = loader, smoke_test
        self._current: Loaded[T] | None = None
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refused: str | None = None
        self.last_error: Exception | None = None

    def current(self) -> Loaded[T]:
        loaded = self._current
        if loaded is None:
            raise RegistryError(f"model {self.name}: nothing loaded yet"
                                + (f" ({self.last_error})" if self.last_error else ""))
        return loaded

    @property
    def version(self) -> str | None:
        loaded = self._current
        return loaded.version if loaded else None

    def refresh(self) -> bool:
        """Load the promoted version if it is new; True when the model was swapped."""
        with self._refresh_lock:
            try:
                wanted = self.registry.promoted(self.name)
            except (OSError, ValueError) as err:  # unreadable PROMOTED: keep serving
                self.last_error = err
                return False
            if wanted is None or wanted == self.version or wanted == self.refused:
                return False
            try:
                loaded = self.registry.load_promoted(
                    self.name, self._loader, self._smoke_test, version=wanted)
            except RegistryError as err:
                self.refused, self.last_error = wanted, err
                return False
            self._current, self.refused, self.last_error = loaded, None, None
            return True

    def start(self, interval_s: float) -> None:
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.refresh()

        self._thread = threading.Thread(target=loop, name=f"livemodel-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
