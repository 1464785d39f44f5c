"""Start data-parallel workers from a notebook (or any Python session) with one call.

``torchrun`` is the launcher for scripts and clusters (``torchrun --nproc_per_node 2 -m
workbench train ...``). A notebook cannot use it, nor ``spawn``-started processes (a
spawned child re-imports the ``__main__`` module, which a notebook does not have, and
functions defined in a cell or lambdas do not pickle). :func:`launch` therefore starts the
workers with ``torch.multiprocessing.start_processes(..., start_method="fork")``, as
PyTorch Lightning's ``ddp_notebook`` strategy and Hugging Face Accelerate's
``notebook_launcher`` do: each child is a copy of the notebook's process, with its
functions and data, joined into a ``torch.distributed`` process group (gloo) on
127.0.0.1 and a free port. The worker function builds a
:class:`~workbench.train.Trainer` with ``strategy="ddp"`` or ``"zero1"``, which finds the
group already initialised.

Threads: torchrun sets ``OMP_NUM_THREADS=1`` in every worker (unless it is set), so that
``nproc`` workers do not oversubscribe the cores. :func:`launch` gives each worker
``cpu_count // nprocs`` intra-op threads (at least 1) instead, so that the workers use
the machine's cores between them, as one process would; ``threads=`` overrides it, and an
``OMP_NUM_THREADS`` already set in the environment is honoured.

CUDA cannot be used in a forked child once the parent has initialised it; :func:`launch`
refuses then (restart the kernel and launch before touching the GPU, or use torchrun).
"""

from __future__ import annotations

import datetime
import os
import pickle
import socket
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from workbench.train.events import Event, Technique

_QUEUE: Any = None  # in a launched worker: the queue to the parent
_RANK: int | None = None


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def default_threads(nprocs: int) -> int:
    """Intra-op threads per worker: ``OMP_NUM_THREADS`` when set, else
    ``max(1, os.cpu_count() // nprocs)``."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 1) // max(1, nprocs))


def publish(message: Any) -> None:
    """Send ``message`` (picklable) from a launched worker to the parent's ``on_message``
    callback (``on_message(rank, message)``), e.g. throughput while training. Does
    nothing outside a worker started by :func:`launch`."""
    if _QUEUE is not None:
        _QUEUE.put(("message", _RANK, pickle.dumps(message)))


def _worker(local_rank: int, fn: Callable[..., Any], args: tuple, kwargs: dict, nprocs: int, port: int,
            host: str, threads: int, backend: str, pg_timeout_s: float, queue: Any) -> None:
    global _QUEUE, _RANK
    _QUEUE, _RANK = queue, local_rank
    os.environ.update({"MASTER_ADDR": host, "MASTER_PORT": str(port), "RANK": str(local_rank),
                       "WORLD_SIZE": str(nprocs), "LOCAL_RANK": str(local_rank),
                       "LOCAL_WORLD_SIZE": str(nprocs), "GROUP_RANK": "0"})
    torch.set_num_threads(threads)
    dist.init_process_group(backend, rank=local_rank, world_size=nprocs,
                            timeout=datetime.timedelta(seconds=pg_timeout_s))
    try:
        result = fn(*args, **kwargs)
        # plain pickle: torch.multiprocessing's would pass tensors as shared-memory file
        # descriptors, which are gone once this process exits
        queue.put(("result", local_rank, pickle.dumps(result)))
    finally:
        dist.destroy_process_group()
        _QUEUE = None


def launch(fn: Callable[..., Any], nprocs: int = 2, args: tuple = (), kwargs: dict | None = None, *,
           threads: int | None = None, on_message: Callable[[int, Any], Any] | None = None,
           timeout_s: float = 3600.0, pg_timeout_s: float = 300.0, backend: str = "gloo",
           host: str = "127.0.0.1", port: int | None = None, poll_s: float = 0.1) -> list[Any]:
    """Run ``fn(*args, **kwargs)`` in ``nprocs`` forked processes joined in one
    ``torch.distributed`` process group; return their results, by rank.

    Each worker sees torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``), has the default process group initialised (and
    destroyed when ``fn`` returns or raises), and may call :func:`publish` to send
    messages that the parent hands to ``on_message(rank, message)`` while it waits.

    Args:
        fn: the worker function (a notebook cell's function is fine: nothing is pickled
            but its return value).
        nprocs: number of processes (>= 1).
        threads: torch intra-op threads per worker (default :func:`default_threads`).
        on_message: called in the parent for every published message.
        timeout_s: the workers are terminated and ``TimeoutError`` raised after this many
            seconds. pg_timeout_s: the process group's collective timeout (a worker that
            waits longer for the others raises instead of hanging).
        backend: ``"gloo"`` (CPU) or ``"nccl"``.
        host, port: the rendezvous address (default 127.0.0.1 and a free port).

    Returns:
        ``[result of rank 0, result of rank 1, ...]`` (results must pickle).

    Raises:
        ValueError: ``nprocs`` < 1. RuntimeError: CUDA already initialised in this
            process (a forked child cannot use it). TimeoutError: ``timeout_s`` passed.
        torch.multiprocessing.ProcessRaisedException: a worker raised (its traceback is
            in the message); the other workers are terminated.
    """
    if isinstance(nprocs, bool) or not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"launch: nprocs must be an integer >= 1; got {nprocs!r}")
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        raise RuntimeError("launch: CUDA is already initialised in this process, and a forked worker cannot "
                           "use it; restart the kernel and launch before using the GPU, or use torchrun")
    threads = default_threads(nprocs) if threads is None else int(threads)
    port = find_free_port(host) if port is None else int(port)
    queue = mp.get_context("fork").SimpleQueue()
    results: dict[int, Any] = {}

    def drain() -> None:
        while not queue.empty():
            kind, rank, data = queue.get()
            payload = pickle.loads(data)  # noqa: S301 - written by our own forked workers
            if kind == "result":
                results[rank] = payload
            elif on_message is not None:
                on_message(rank, payload)

    ctx = mp.start_processes(_worker, args=(fn, tuple(args), dict(kwargs or {}), nprocs, port, host, threads,
                                            backend, float(pg_timeout_s), queue),
                             nprocs=nprocs, join=False, start_method="fork")
    deadline = time.monotonic() + float(timeout_s)
    try:
        while not ctx.join(timeout=poll_s):
            drain()
            if time.monotonic() > deadline:
                raise TimeoutError(f"launch: the {nprocs} workers did not finish within {timeout_s} s")
        drain()
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
                p.join(5)
    return [results.get(r) for r in range(nprocs)]


class ThroughputMonitor(Technique):
    """Publishes this rank's training throughput every ``every_steps`` optimizer steps
    (:func:`publish`, to :func:`launch`'s ``on_message``; outside a launched worker it
    only keeps the figures in ``rows``).

    Each message is a dict: ``rank``, ``effective_step``, ``examples`` (this rank's,
    since the previous message), ``seconds`` (wall seconds since then, everything
    included) and ``examples_per_s``.

    Raises:
        ValueError: ``every_steps`` not an integer >= 1.
    """

    name = "throughput_monitor"
    events = frozenset({Event.FIT_START, Event.STEP_END})

    def __init__(self, every_steps: int = 10) -> None:
        super().__init__()
        if isinstance(every_steps, bool) or not isinstance(every_steps, int) or every_steps < 1:
            raise ValueError(f"ThroughputMonitor.every_steps must be an integer >= 1; got {every_steps!r}")
        self.every_steps = every_steps
        self.rows: list[dict[str, Any]] = []
        self._t = 0.0
        self._seen = 0

    @classmethod
    def default(cls, splits: Any = None, **overrides: Any) -> ThroughputMonitor:
        return cls(**overrides)

    def on_fit_start(self, state: Any) -> None:
        self._t, self._seen = time.perf_counter(), state.examples_seen

    def on_step_end(self, state: Any) -> None:
        if state.effective_step % self.every_steps:
            return
        now = time.perf_counter()
        n, dt = state.examples_seen - self._seen, now - self._t
        row = {"rank": state.rank, "effective_step": state.effective_step, "examples": n, "seconds": dt,
               "examples_per_s": n / dt if dt > 0 else float("nan")}
        self.rows.append(row)
        publish(row)
        self._t, self._seen = now, state.examples_seen
