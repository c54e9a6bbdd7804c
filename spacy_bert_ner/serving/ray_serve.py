"""`serve --engine ray`: the same app as a Ray Serve deployment, on a local Ray or a cluster.

Each of `replicas` replicas loads the pipeline once (`model.EntityModel`, as the local service
does) and serves the app of `app.create_app` through `serve.ingress`, built in the replica around
its model: the same routes, limits and answers. Batching across requests is Ray Serve's `@serve.batch` (each text one call, up to
`--max-batch-texts` of them a batch, waiting at most `--batch-wait-ms`), the model run in one
thread of the replica so its event loop keeps answering; `--max-queue` is the deployment's
`max_queued_requests` (Ray Serve answers 503 past it). Ray Serve's proxy listens on `--host` and
`--port` and spreads requests over the replicas; Ray itself comes from `ray_cluster.ray_session`,
as for `predict --engine ray`. `/metrics` is the answering replica's own (Ray exports its own
metrics for the whole deployment).
"""
import asyncio
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, List, Optional

from ..extras import SERVE_RAY_EXTRA, require
from ..ray_cluster import check_resources, ray_session
from .settings import ServeSettings

APP_NAME = "spacy-bert-ner"


@dataclass(frozen=True)
class RayServe:
    """serve --engine ray: where and how many replicas."""

    address: Optional[str] = None  # a Ray cluster; None starts a local Ray on this machine
    replicas: int = 1
    cpus: float = 1.0  # of each replica
    gpus: float = 0.0


def deployment(settings: ServeSettings, ray: RayServe) -> Any:
    """The bound Ray Serve application: in each replica, the model and the FastAPI app around it."""
    from ray import serve

    from .app import create_app
    from .batcher import PipelineError
    from .model import EntityModel

    class ReplicaEngine:
        """The app's engine in a replica: texts batched by @serve.batch, run in one thread."""

        failure: Optional[str] = None

        def __init__(self):
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ner-model")
            self.model = EntityModel(settings)
            self.model.warm_up()
            self.scored = self.model.scored

        def is_ready(self) -> bool:
            return True

        def _run(self, texts: List[str]) -> List[Any]:
            """The batch's entities; if it raises, each text alone, a failing one giving its exception
            (so only the requests with such a text fail, as in the local batcher)."""
            try:
                return self.model.entities(texts)
            except Exception:
                found: List[Any] = []
                for text in texts:
                    try:
                        found.extend(self.model.entities([text]))
                    except Exception as err:
                        found.append(err)
                return found

        @serve.batch(max_batch_size=settings.max_batch_texts, batch_wait_timeout_s=settings.batch_wait_ms / 1000)
        async def _batch(self, texts: List[str]) -> List[Any]:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, texts)

        async def entities(self, texts: List[str]) -> List[Any]:
            found = await asyncio.gather(*(self._batch(text) for text in texts))
            for result in found:
                if isinstance(result, Exception):
                    raise PipelineError(f"{type(result).__name__}: {result}") from result
            return list(found)

    @serve.deployment(num_replicas=ray.replicas, ray_actor_options={"num_cpus": ray.cpus, "num_gpus": ray.gpus},
                      max_ongoing_requests=settings.max_queue, max_queued_requests=settings.max_queue,
                      graceful_shutdown_timeout_s=settings.grace_period)
    @serve.ingress()
    class EntitiesDeployment:
        """A replica: loads the model once, then serves the app (Ray Serve asks for it after __init__)."""

        def __init__(self):
            self.engine = ReplicaEngine()

        def __serve_build_asgi_app__(self) -> Any:
            return create_app(settings, self.engine)

    return EntitiesDeployment.bind()


def run_ray(settings: ServeSettings, ray_settings: RayServe) -> None:
    """Deploy, serve until SIGTERM or Ctrl-C, then shut the deployment down gracefully."""
    require("ray.serve", "serve --engine ray needs", SERVE_RAY_EXTRA)
    stop = threading.Event()
    # Set before Ray starts: ray_session gives them back after Ray's own, and a signal that comes
    # while the deployment starts stops it as soon as it is up.
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with ray_session(ray_settings.address) as ray:
            from ray import serve

            check_resources(ray, {"CPU": ray_settings.cpus, "GPU": ray_settings.gpus}, "--cpus-per-replica and "
                            "--gpus-per-replica")
            serve.start(http_options={"host": settings.host, "port": settings.port})
            try:
                serve.run(deployment(settings, ray_settings), name=APP_NAME, route_prefix="/")
                stop.wait()
            finally:
                serve.shutdown()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
