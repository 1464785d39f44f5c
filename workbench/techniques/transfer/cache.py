"""The on-disk cache of the transfer family (pretraining corpora, word vectors): where it
lives, how its keys are computed, and atomic writes.

Folder (:func:`default_cache_dir`): ``$WORKBENCH_CACHE`` when set, else
``<repo>/.workbench_cache`` in a source checkout (the folder that holds the ``workbench``
package has a ``pyproject.toml``; git-ignored, as the benchmarks' caches are), else
``~/.cache/workbench``; the family writes under its ``transfer/`` subfolder.

Keys (:func:`cache_key`) are the SHA-256 of a canonical JSON of every input that changes
the result (settings, corpus file fingerprints, the builder's version), so a changed input
gives a new file and an unchanged one reuses the old file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "cache_key", "default_cache_dir", "file_fingerprint", "resolve_cache_dir"]

_REPO_ROOT = Path(__file__).resolve().parents[3]


def default_cache_dir() -> Path:
    """The family's cache folder (see the module docstring); not created here."""
    env = os.environ.get("WORKBENCH_CACHE", "").strip()
    if env:
        return Path(env).expanduser() / "transfer"
    if (_REPO_ROOT / "pyproject.toml").is_file():
        return _REPO_ROOT / ".workbench_cache" / "transfer"
    return Path.home() / ".cache" / "workbench" / "transfer"


def resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    """``cache_dir`` as a ``Path`` (``None``: :func:`default_cache_dir`)."""
    return default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()


def cache_key(spec: Any, length: int = 16) -> str:
    """First ``length`` hex digits of the SHA-256 of ``json.dumps(spec, sort_keys=True)``
    (``spec``: plain values; anything else is converted with ``str``)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def file_fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """``{"path", "bytes", "sha256"}`` of a file's content (so an edited file, even with the
    same size and time stamp, gets a new key). Raises ``FileNotFoundError``."""
    p = Path(path)
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"path": str(p.resolve()), "bytes": p.stat().st_size, "sha256": h.hexdigest()}


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder, then ``os.replace`` it
    onto ``path`` (readers never see a half-written cache file). Creates the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide a shared cache from others
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
