"""Checkpoints: atomic writes, ``weights_only`` loads, RNG state capture.

A checkpoint is a dict of tensors and plain Python containers only, written with
``torch.save`` to a temporary file in the destination folder, flushed and fsync'ed, then
moved over the destination with ``os.replace`` (atomic on POSIX and Windows). A crash or
an interrupt during a write therefore leaves the previous file as it was. Files are read
with ``torch.load(weights_only=True)``, which refuses to unpickle arbitrary objects.

Temporary files are named ``.<name>.<host>.<pid>.<token>.tmp``. A process killed during a
write (SIGKILL, power cut) leaves its temporary file behind; the next write into that
folder removes the temporary files of writers on this host whose process is gone (and
this process's own, other than those being written), never those of a live process.

A write that the file system refuses (disk full, read-only folder, no permission) raises
one :class:`CheckpointWriteError` naming the path and the cause, instead of torch's
``RuntimeError: [enforce fail at inline_container.cc] ... unexpected pos``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import random
import re
import secrets
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "workbench-checkpoint"
VERSION = 1
_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")
#: ``.<name>.<host>.<pid>.<token>.tmp``: the temporary file of an :func:`atomic_save`
_TMP_FILE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{8})\.tmp$")
_IN_FLIGHT: set[str] = set()  # temporary files this process is writing now (any thread)
_IN_FLIGHT_LOCK = threading.Lock()


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read: missing, corrupt, not ours, or carries pickled objects."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written: the file system refused it (no space left on the
    device, a read-only file system, no permission, an I/O error).

    ``errno`` is the file system's error number, ``filename`` the checkpoint's path; the
    message names the path and the cause. The previous file at that path is untouched and
    no temporary file is left behind.
    """

    def __str__(self) -> str:  # the message names the path already
        return f"[Errno {self.errno}] {self.strerror}"


def capture_rng_state() -> dict[str, Any]:
    """RNG states of Python ``random``, NumPy's global generator, torch CPU and CUDA.

    Returns plain values and tensors only (NumPy's key array becomes an int64 tensor).
    """
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": _to_plain(random.getstate()),
        "numpy": {
            "kind": str(np_state[0]),
            "key": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_plain(x: Any) -> Any:
    if isinstance(x, tuple):
        return [_to_plain(v) for v in x]
    return x


def _to_tuple(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_to_tuple(v) for v in x)
    return x


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def temp_file_path(path: str | os.PathLike) -> Path:
    """A fresh temporary path beside ``path``: ``.<name>.<host>.<pid>.<token>.tmp``."""
    path = Path(path)
    return path.parent / f".{path.name}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a pid we can judge: keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, owned by another user
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that :func:`atomic_save` writers on this host left in
    ``folder`` when they were killed: those whose process is gone, and this process's own
    that are not being written now. A live process's files, other hosts' files (a shared
    network folder) and files of any other name are kept. Returns the deleted paths."""
    folder = Path(folder)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    host, me = _host_tag(), os.getpid()
    with _IN_FLIGHT_LOCK:
        busy = set(_IN_FLIGHT)
    removed = []
    for name in names:
        m = _TMP_FILE.match(name)
        if m is None or m.group("host") != host:
            continue
        pid, p = int(m.group("pid")), folder / name
        if str(p) in busy or (pid != me and _pid_alive(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed


def _os_error_in(exc: BaseException) -> OSError | None:
    """The ``OSError`` behind ``exc``: itself, or one in its cause / context chain (torch's
    writer turns a failed ``write`` into ``RuntimeError: ... unexpected pos``)."""
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, OSError) and e.errno is not None:
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _write_error(err: OSError, path: Path) -> CheckpointWriteError:
    code = err.errno
    cause = os.strerror(code).lower() if code else str(err)
    hint = ""
    if code in (errno.ENOSPC, errno.EDQUOT):
        with contextlib.suppress(OSError):
            hint = f" ({shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free there)"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = f" (the folder {path.parent} is not writable by this process)"
    msg = (f"{cause} while writing checkpoint {path}{hint}; any previous file at that path is "
           f"untouched")
    out = CheckpointWriteError(code, msg)
    out.filename = str(path)
    return out


def atomic_save(obj: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``obj`` with ``torch.save`` atomically: temp file, fsync, ``os.replace``.

    Before writing, the stale temporary files of killed writers in the folder are
    removed (:func:`remove_stale_temp_files`).

    Raises:
        CheckpointWriteError: the file system refused the write (disk full, read-only
            folder, no permission, ...): the message names ``path`` and the cause.
        Exception: anything else ``torch.save`` raises (an unpicklable object), as is.

    On any error the temporary file is removed and a previous file at ``path`` is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(exc, path) from exc
    remove_stale_temp_files(path.parent)
    tmp = temp_file_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        raise _write_error(exc, path) from exc
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.add(str(tmp))
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        os_err = _os_error_in(exc)
        if os_err is not None and not isinstance(exc, CheckpointWriteError):
            raise _write_error(os_err, path) from exc
        raise
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(str(tmp))
    try:  # persist the rename itself
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    return path


def load_checkpoint_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a workbench checkpoint with ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: the file is missing, truncated or corrupt, is not a workbench
            checkpoint, or holds a pickled object other than tensors and plain containers
            (``weights_only`` refuses to run arbitrary code).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refusing to load {path}: it holds a pickled object that is not a tensor or a plain "
            f"container, and checkpoints are loaded with weights_only=True so that loading a file "
            f"cannot run code. ({str(exc).splitlines()[0]})"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: it is truncated or corrupt ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a workbench checkpoint (no 'format': '{FORMAT}' entry)")
    if int(obj.get("version", -1)) > VERSION:
        raise CheckpointError(
            f"{path} was written by a newer workbench (checkpoint version {obj['version']} > {VERSION})"
        )
    return obj


def nonfinite_tensors(tensors: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors in ``tensors`` (a ``state_dict``) that hold a NaN
    or an Inf, in order; one host sync for all of them."""
    named = [(k, v._values() if v.is_sparse else v) for k, v in tensors.items()
             if isinstance(v, torch.Tensor) and (v.is_floating_point() or v.is_complex())]
    if not named:
        return []
    flags = [torch.isfinite(v.detach()).all() for _, v in named]
    device = flags[0].device
    ok = torch.stack([f.to(device) for f in flags]).cpu()
    if bool(ok.all()):
        return []
    return [k for (k, _), good in zip(named, ok.tolist()) if not good]


def step_checkpoint_path(folder: str | os.PathLike, effective_step: int) -> Path:
    """``<folder>/step-00000123.pt``."""
    return Path(folder) / f"step-{effective_step:08d}.pt"


def list_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """Step checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest step checkpoint in ``folder``, or None."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def prune_checkpoints(folder: str | os.PathLike, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest step checkpoints; returns the deleted paths."""
    found = list_checkpoints(folder)
    doomed = found[:-keep] if keep > 0 else found
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed
