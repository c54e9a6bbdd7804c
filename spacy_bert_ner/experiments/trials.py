"""Where the trainings of a sweep or a cross-validation run: one after another here, or on Ray.

A job is one training (a sweep's trial, a fold with its evaluation) in a process of its own
(`runs.train_in_subprocess`), given as a function of the GPU it may use. Locally the jobs run
one after the other. With `--engine ray` each is a Ray task asking for `cpus_per_trial` CPUs
and `gpus_per_trial` GPUs, all submitted at once: Ray runs as many side by side as the cluster
has room for, on any node, and each result comes back as its job ends, so the caller records it
(results.json) at once and a rerun skips it. Jobs run in the driver's working directory, and
the output folder, corpora and encoder must be on storage that every node sees at the same
paths (a shared filesystem), unless the cluster is this one machine.

Ray sets a task's OMP_NUM_THREADS to its CPUs, and the training process inherits it, so trials
side by side do not oversubscribe the cores. A task with GPUs sees only its own (Ray sets
CUDA_VISIBLE_DEVICES), so it trains on GPU 0 of what it sees.
"""
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple, TypeVar

from ..errors import UserError
from ..ray_cluster import check_resources, ray_session

Key = TypeVar("Key")
Result = TypeVar("Result")
Job = Callable[[int], Result]  # called with the GPU to train on, -1 for the CPU


@dataclass(frozen=True)
class RayTrials:
    """sweep/cv --engine ray: the cluster and what each trial or fold asks of it."""

    address: Optional[str] = None  # None starts a local Ray on this machine
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0


def _run(job: Job, gpu_id: int, cwd: str) -> Any:
    """A job on a Ray worker, in the driver's working directory, so relative paths in the
    config and overrides mean what they mean to the user."""
    os.chdir(cwd)
    return job(gpu_id)


def run_jobs(jobs: Sequence[Tuple[Key, Job]], ray: Optional[RayTrials], gpu_id: int
             ) -> Iterator[Tuple[Key, Any]]:
    """(key, result) of each job as it ends: in order locally (on `gpu_id`), in the order they
    finish on Ray. Stopping early (an error, Ctrl-C) cancels the Ray tasks not yet finished."""
    if ray is None:
        for key, job in jobs:
            yield key, job(gpu_id)
        return
    if gpu_id >= 0:
        raise UserError(f"--gpu-id {gpu_id} is for the local engine; with --engine ray ask for GPUs with "
                        "--gpus-per-trial (each trial then trains on its own).")
    if not jobs:
        return
    with ray_session(ray.address) as connected:
        check_resources(connected, {"CPU": ray.cpus_per_trial, "GPU": ray.gpus_per_trial},
                        "--cpus-per-trial and --gpus-per-trial")
        task = connected.remote(_run).options(num_cpus=ray.cpus_per_trial, num_gpus=ray.gpus_per_trial,
                                              max_retries=0)  # a failed training is a result, not retried
        gpu = 0 if ray.gpus_per_trial > 0 else -1
        pending = {task.remote(job, gpu, os.getcwd()): key for key, job in jobs}
        try:
            while pending:
                (done,), _ = connected.wait(list(pending), num_returns=1)
                yield pending.pop(done), connected.get(done)
        finally:
            for ref in pending:
                connected.cancel(ref, force=True)
