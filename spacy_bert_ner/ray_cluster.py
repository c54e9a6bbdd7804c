"""The Ray that the commands with `--engine ray` run on.

`predict`, `sweep` and `cv` connect through `ray_session`: to the cluster at `address` (what
`ray start --head` prints, e.g. 10.0.0.1:6379, or "auto" for the cluster this machine is part
of), or, without one, to a Ray started on this machine for the command and stopped after it, so
the same command works on a laptop and on a cluster. A Ray the caller has already started
(`ray.init()` in their own program) is used as it is and left running. The work runs on the
cluster's nodes: each needs spacy-bert-ner (and, for predict, the model) installed.
"""
import logging
import signal
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from .errors import UserError
from .extras import RAY_EXTRA, require


@contextmanager
def ray_session(address: Optional[str]) -> Iterator[Any]:
    """The `ray` module, connected; a Ray started here is shut down on the way out."""
    require("ray", "--engine ray needs", RAY_EXTRA)
    import ray

    if ray.is_initialized():
        yield ray
        return
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        ray.init(address=address or "local", include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, ValueError) as err:
        raise UserError(f"--address {address}: no Ray cluster answers there ({err}). Start one with "
                        "`ray start --head` and pass the address it prints, or leave out --address "
                        "to run on a Ray started on this machine.") from err
    if threading.current_thread() is threading.main_thread():
        # Ray's core worker installs its own SIGTERM handler, which ends the process on the spot;
        # the caller's handlers (predict's: stop, say what was done, clean up) come back.
        for number, handler in handlers.items():
            if handler is not None:
                signal.signal(number, handler)
    try:
        yield ray
    finally:
        ray.shutdown()


def check_resources(ray: Any, needed: Dict[str, float], options: str) -> None:
    """Stop here when no node could ever give what is asked for at once: Ray would wait for it
    forever (checked against the cluster as it is now; an autoscaler's future nodes do not count)."""
    available = ray.cluster_resources()
    for resource, amount in needed.items():
        if amount > available.get(resource, 0):
            raise UserError(f"{options} ask for {amount:g} {resource} at once, and the Ray cluster has "
                            f"{available.get(resource, 0):g}. Ask for fewer, or add nodes with "
                            f"`ray start --address ...`.")
