"""Scale-out on ``torch.distributed``: the process group, DDP and ZeRO-1 pieces the
:class:`~workbench.train.Trainer` uses when ``TrainingConfig.strategy`` is ``"ddp"`` or
``"zero1"``, and communication hooks that count and time the gradient all-reduces.

Nothing here is home-made: processes are started by ``torchrun`` (or
:func:`workbench.train.launch.launch` from a notebook), the group is
``torch.distributed``'s (gloo on CPU, NCCL on CUDA), gradients are averaged by
``torch.nn.parallel.DistributedDataParallel`` (Li et al. 2020, "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training": bucketed all-reduce overlapped with
the backward pass, Sec. 3.2.3; ``no_sync`` for accumulation, Sec. 3.2.4) and the optimizer
state is sharded by ``torch.distributed.optim.ZeroRedundancyOptimizer`` (ZeRO stage 1,
Rajbhandari et al. 2020, Sec. 5.1).

Environment (set by ``torchrun``): ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``. :func:`setup` initialises the default group from them
(``init_method="env://"``) or uses a group that is already initialised.
"""

from __future__ import annotations

import atexit
import datetime
import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

#: the variables torchrun exports to every worker (``init_method="env://"`` reads them)
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class DistContext:
    """Where this process stands in the process group.

    Attributes:
        rank, world_size: this process's global rank and the number of processes.
        local_rank: rank on this machine (``LOCAL_RANK``; picks the GPU).
        device: the device this rank trains on (``cuda:<local_rank>`` for a CUDA config).
        backend: ``"gloo"`` or ``"nccl"``.
        comm_device: where small control tensors live for collectives (the CUDA device
            for NCCL, else CPU).
        owns_group: whether :func:`setup` created the group (and :func:`teardown` may
            destroy it).
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str
    comm_device: torch.device
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files, logs and shows progress."""
        return self.rank == 0


def is_initialized() -> bool:
    """Whether a default ``torch.distributed`` process group exists."""
    return dist.is_available() and dist.is_initialized()


def launched_by_torchrun() -> bool:
    """Whether the environment holds torchrun's variables (:data:`TORCHRUN_ENV`)."""
    return all(v in os.environ for v in TORCHRUN_ENV)


def setup(device: str = "cpu", timeout_s: float | None = None) -> DistContext:
    """Use the initialised process group, or initialise it from torchrun's environment.

    Args:
        device: the config's device. ``"cuda"`` / ``"cuda:N"`` train on
            ``cuda:<LOCAL_RANK>`` with the NCCL backend; anything else on CPU with gloo.
        timeout_s: the group's timeout for collectives (default: torch's, 30 minutes for
            gloo, 10 for NCCL); a rank that waits longer raises instead of hanging.

    Raises:
        RuntimeError: ``torch.distributed`` is not available, or no group is initialised
            and the environment lacks torchrun's variables (the message says how to
            launch).
    """
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this build of torch; strategy "
                           "'ddp' / 'zero1' need it")
    want_cuda = str(device).startswith("cuda")
    owns = False
    if not dist.is_initialized():
        if not launched_by_torchrun():
            missing = [v for v in TORCHRUN_ENV if v not in os.environ]
            raise RuntimeError(
                f"TrainingConfig.strategy 'ddp' / 'zero1' needs a torch.distributed process group, and none "
                f"is initialised here (environment lacks {missing}). Launch the processes with torchrun "
                f"(`torchrun --nproc_per_node 2 -m workbench train ...` or `torchrun --nproc_per_node 2 "
                f"your_script.py`), from a notebook with workbench.train.launch.launch(fn, nprocs=2), or "
                f"call torch.distributed.init_process_group first; strategy='single' trains in one process.")
        backend = "nccl" if want_cuda and dist.is_nccl_available() else "gloo"
        kwargs: dict[str, Any] = {"backend": backend}
        if timeout_s is not None:
            kwargs["timeout"] = datetime.timedelta(seconds=float(timeout_s))
        if backend == "nccl":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            kwargs["device_id"] = torch.device("cuda", local)
        dist.init_process_group(**kwargs)
        owns = True
        # destroyed at exit (torch warns about a group left behind); call teardown() sooner
        atexit.register(teardown)
    backend = str(dist.get_backend())
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", rank))
    if want_cuda:
        dev = torch.device("cuda", local % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(dev)
    else:
        dev = torch.device(device)
    comm = dev if backend == "nccl" else torch.device("cpu")
    return DistContext(rank, world, local, dev, backend, comm, owns)


def teardown(ctx: DistContext | None = None) -> None:
    """Destroy the default process group (if it exists and, when ``ctx`` is given, if
    :func:`setup` created it)."""
    if is_initialized() and (ctx is None or ctx.owns_group):
        # Gloo's worker threads free each finished collective's work object, whose tensors
        # are Python objects (freeing them takes the GIL). Destroying the group joins those
        # threads while holding the GIL, so a thread still freeing one deadlocks the process
        # at exit (seen: a torchrun worker that never exits after training). A barrier
        # drains the queue of collectives, and a short GIL-free pause lets the threads
        # finish freeing them before the group (or the DDP reducer holding it) goes.
        dist.barrier()
        time.sleep(0.05)
        dist.destroy_process_group()


def optimizer_spec(config: Any) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The ``torch.optim`` class and keyword arguments ``config.optimizer`` names (the
    same settings :func:`workbench.train.optim.build_optimizer` uses), for
    ``ZeroRedundancyOptimizer(params, optimizer_class=cls, **kwargs)``."""
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    table: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
        "sgd": (torch.optim.SGD, {"momentum": config.momentum}),
        "adam": (torch.optim.Adam, {"betas": config.betas, "eps": config.eps}),
        "adamw": (torch.optim.AdamW, {"betas": config.betas, "eps": config.eps}),
        "rmsprop": (torch.optim.RMSprop, {"momentum": config.momentum, "eps": config.eps}),
        "adagrad": (torch.optim.Adagrad, {"eps": config.eps}),
    }
    if name not in table:
        raise ValueError(f"unknown optimizer {name!r}; valid: {sorted(table)}")
    cls, kwargs = table[name]
    return cls, {"lr": lr, "weight_decay": wd, **kwargs}


def build_zero_optimizer(params: Any, config: Any) -> torch.optim.Optimizer:
    """``torch.distributed.optim.ZeroRedundancyOptimizer`` over ``params`` (parameters or
    parameter-group dicts) with the optimizer ``config`` names: each rank keeps the state
    (Adam's two moments, SGD's momentum) of its share of the parameters, steps them, and
    broadcasts them to the other ranks (ZeRO stage 1, Rajbhandari et al. 2020, Sec. 5.1).
    Needs an initialised process group."""
    from torch.distributed.optim import ZeroRedundancyOptimizer

    cls, kwargs = optimizer_spec(config)
    params = list(params)
    if params and isinstance(params[0], dict):
        first, rest = params[0], params[1:]
        opt = ZeroRedundancyOptimizer(first["params"], optimizer_class=cls,
                                      **(kwargs | {k: v for k, v in first.items() if k != "params"}))
        for g in rest:
            opt.add_param_group(dict(g))
        return opt
    return ZeroRedundancyOptimizer(params, optimizer_class=cls, **kwargs)


def is_zero(optimizer: Any) -> bool:
    """Whether ``optimizer`` is a ``ZeroRedundancyOptimizer``."""
    return type(optimizer).__name__ == "ZeroRedundancyOptimizer"


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the optimizer state tensors this process holds (for a
    ``ZeroRedundancyOptimizer``: its local shard only), e.g. Adam's ``exp_avg`` and
    ``exp_avg_sq`` (2 x 4 bytes per float32 parameter) and its ``step`` counters."""
    opt = optimizer.optim if is_zero(optimizer) else optimizer
    total = 0
    for st in opt.state.values():
        for v in st.values():
            if isinstance(v, torch.Tensor):
                total += v.numel() * v.element_size()
    return total


# --------------------------------------------------------------------------- comm hooks
@dataclass
class AllReduceStats:
    """What :func:`counting_allreduce_hook` records: ``calls`` (bucket all-reduces),
    ``seconds`` (wall time from handing each bucket to the backend until its result
    was ready, summed; it overlaps the backward pass), ``bytes`` (gradient bytes sent),
    ``last_start`` (``time.perf_counter()`` when the latest bucket was handed over: the
    backward pass has computed every gradient by the time the last bucket is ready, so
    the wait from then until ``backward()`` returns is communication it did not hide)."""

    calls: int = 0
    seconds: float = 0.0
    bytes: int = 0
    durations: list[float] = field(default_factory=list)
    process_group: Any = None
    last_start: float = 0.0

    def reset(self) -> None:
        self.calls, self.seconds, self.bytes = 0, 0.0, 0
        self.durations.clear()


def counting_allreduce_hook(state: AllReduceStats, bucket: Any) -> torch.futures.Future[torch.Tensor]:
    """A DDP communication hook (``ddp.register_comm_hook(AllReduceStats(), hook)``) that
    averages the bucket's gradients with one all-reduce, as DDP's default does
    (``torch.distributed.algorithms.ddp_comm_hooks.default_hooks.allreduce_hook``), and
    counts and times it in ``state``. DDP calls the hook once per gradient bucket in every
    backward pass that synchronises (never under ``no_sync()``)."""
    group = state.process_group if state.process_group is not None else dist.group.WORLD
    world = dist.get_world_size(group)
    tensor = bucket.buffer()
    state.calls += 1
    state.bytes += tensor.numel() * tensor.element_size()
    t0 = state.last_start = time.perf_counter()
    fut = dist.all_reduce(tensor.div_(world), group=group, async_op=True).get_future()

    def done(f: torch.futures.Future) -> torch.Tensor:
        dt = time.perf_counter() - t0
        state.seconds += dt
        state.durations.append(dt)
        return f.value()[0]

    return fut.then(done)


# DDP checks a hook's annotations against the real types (this module's are strings)
counting_allreduce_hook.__annotations__ = {"state": AllReduceStats, "bucket": dist.GradBucket,
                                           "return": torch.futures.Future[torch.Tensor]}


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 (hex) of ``model.state_dict()``: names, shapes and bytes, in order. Ranks
    of a data-parallel run must end with the same digest."""
    import hashlib

    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        t = v.detach().cpu().contiguous().reshape(-1)
        h.update(f"{k}{tuple(v.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def allreduce_mean_(tensors: list[torch.Tensor]) -> None:
    """Average ``tensors`` over the ranks in place, in one flattened all-reduce (for
    gradients DDP does not own, such as a technique's own parameters)."""
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat.div_(dist.get_world_size())
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset:offset + n].view_as(t))
        offset += n
