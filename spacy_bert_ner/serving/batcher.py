"""Requests gathered into batches for one model thread: throughput close to `nlp.pipe`'s.

Each request's texts join a queue; one thread (the only one that touches the pipeline, so the
event loop never waits on the model and `/health` answers while a batch runs) takes up to
`max_batch_texts` texts off its head, from as many requests as fit, a request's texts split
across batches when it has more. Short of a full batch it waits for more, `batch_wait_s` at most,
counted from the oldest request's arrival or from the end of the last batch, whichever is later:
a lone request waits that long at most, and the clients answered by one batch have that long to
send their next request into the next (counted from the arrival alone, the requests that came
during a batch would leave at once, and under steady load the clients would stay split into
groups that never share a batch). A request is answered when its last text is done.

The queue holds at most `max_queue` requests; one more is refused at once (`QueueFull`, the
app's 503 with Retry-After) rather than waiting longer than any client would. A batch that raises
is run again one request at a time, so only the request whose text makes the pipeline fail gets
the error (`PipelineError`, the app's 500) and the others their entities. The model is loaded
in the thread itself and answers a warm-up call before `ready` is set; a request that comes in
while it loads waits in the queue. A request whose client went away leaves the queue.
"""
import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, List, Optional, Protocol, Tuple

from .logs import LOGGER
from .metrics import ServiceMetrics


class Model(Protocol):
    scored: bool

    def entities(self, texts: List[str]) -> List[Any]: ...

    def warm_up(self) -> None: ...


class QueueFull(Exception):
    """More requests wait for the model than the queue holds."""


class NotReady(Exception):
    """The model could not be loaded; the message says why."""


class PipelineError(Exception):
    """The pipeline raised on a request's texts; the cause is the pipeline's exception."""


@dataclass(eq=False)
class _Request:
    texts: List[str]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    arrived: float
    results: List[Any] = field(default_factory=list)
    taken: int = 0  # texts handed to a batch so far
    done: int = 0  # texts with results

    def finish(self, outcome: Any, error: bool = False) -> None:
        def settle() -> None:
            if not self.future.done():
                (self.future.set_exception if error else self.future.set_result)(outcome)

        self.loop.call_soon_threadsafe(settle)


Slice = Tuple[_Request, int, int]  # a request, the first and end index of its texts in a batch


class Batcher:
    def __init__(self, load: Callable[[], Model], max_batch_texts: int, batch_wait_s: float, max_queue: int,
                 metrics: ServiceMetrics):
        self._load, self.max_batch_texts, self.batch_wait_s = load, max_batch_texts, batch_wait_s
        self.max_queue, self.metrics = max_queue, metrics
        self._pending: Deque[_Request] = deque()
        self._waiting_texts = 0  # not yet taken, over the requests in _pending
        self._lock = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="ner-model", daemon=True)
        self.ready = threading.Event()
        self.failure: Optional[str] = None  # why the model did not load
        self.model: Optional[Model] = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Let the thread finish what is queued, then end it (waits at most `timeout` seconds)."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._thread.join(timeout)

    def is_ready(self) -> bool:
        return self.ready.is_set()

    @property
    def scored(self) -> bool:
        """Whether the pipeline scores its entities (known once loaded)."""
        return self.model is not None and self.model.scored

    async def entities(self, texts: List[str]) -> List[Any]:
        """Each text's entities, as the model gives them, once a batch has run them."""
        if self.failure is not None:
            raise NotReady(self.failure)
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        request = _Request(list(texts), loop.create_future(), loop, time.monotonic(), [None] * len(texts))
        with self._lock:
            if len(self._pending) >= self.max_queue:
                raise QueueFull(f"{len(self._pending)} requests are waiting (--max-queue {self.max_queue})")
            self._pending.append(request)
            self._waiting_texts += len(texts)
            self._lock.notify_all()
            self.metrics.queue_depth.set(len(self._pending))
        try:
            return await request.future
        except asyncio.CancelledError:  # the client went away: its texts need not run
            with self._lock:
                if request in self._pending:
                    self._pending.remove(request)
                    self._waiting_texts -= len(texts) - request.taken
                    self.metrics.queue_depth.set(len(self._pending))
            raise

    def _work(self) -> None:
        try:
            self.model = self._load()
            self.model.warm_up()
        except BaseException as err:  # noqa: B902 - whatever stops the model, the service says it
            self.failure = f"the model did not load: {type(err).__name__}: {err}"
            logging.getLogger(LOGGER).error(self.failure, exc_info=err)
            with self._lock:
                for request in self._pending:
                    request.finish(NotReady(self.failure), error=True)
                self._pending.clear()
            return
        self.ready.set()
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run(batch)

    def _next_batch(self) -> Optional[List[Slice]]:
        """Up to max_batch_texts texts off the queue's head, once the batch is full or the oldest
        request has waited batch_wait_s; None when stopping with nothing queued."""
        with self._lock:
            while not self._pending:
                if self._stopping:
                    return None
                self._lock.wait()
            free_since = time.monotonic()
            while self._waiting_texts < self.max_batch_texts and not self._stopping:
                left = max(self._pending[0].arrived, free_since) + self.batch_wait_s - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
                if not self._pending:  # its clients went away
                    return []
            batch: List[Slice] = []
            room = self.max_batch_texts
            while self._pending and room:
                request = self._pending[0]
                start = request.taken
                request.taken = min(len(request.texts), start + room)
                batch.append((request, start, request.taken))
                room -= request.taken - start
                if request.taken == len(request.texts):
                    self._pending.popleft()
            self._waiting_texts -= self.max_batch_texts - room
            self.metrics.queue_depth.set(len(self._pending))
            return batch

    def _run(self, batch: List[Slice]) -> None:
        if not batch:
            return
        texts = [text for request, start, end in batch for text in request.texts[start:end]]
        self.metrics.batch_texts.observe(len(texts))
        try:
            found = self.model.entities(texts)
        except Exception as err:
            if len(batch) == 1:
                self._fail(batch[0][0], err)
                return
            for one in batch:  # only the request that makes the pipeline fail gets the error
                self._run([one])
            return
        offset = 0
        for request, start, end in batch:
            request.results[start:end] = found[offset:offset + end - start]
            offset += end - start
            request.done += end - start
            if request.done == len(request.texts):
                request.finish(request.results)

    def _fail(self, request: _Request, err: Exception) -> None:
        with self._lock:
            if request in self._pending:  # its remaining texts need not run
                self._pending.remove(request)
                self._waiting_texts -= len(request.texts) - request.taken
                self.metrics.queue_depth.set(len(self._pending))
        error = PipelineError(f"{type(err).__name__}: {err}")
        error.__cause__ = err
        request.finish(error, error=True)
