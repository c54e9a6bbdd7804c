"""The FastAPI app: the routes, the answers to bad input, the request log and the metrics.

`create_app` builds it around an engine that finds the entities: the local `Batcher` (one model
thread, requests gathered into batches), started and stopped with the app, or a Ray Serve
replica's (`ray_serve`), which builds the app around its own model. Every answer
that is not a success is JSON `{"error": ...}` naming the field or the limit:

- 400: the body is not UTF-8; 413: the body is over `--max-body-bytes` (`BodyLimit`: refused on
  its Content-Length before any of it is read, or, without one, as soon as the bytes streamed in
  pass the limit);
- 422: not JSON, a field missing, misspelt or of the wrong type, more than `--max-texts` texts,
  `min_score` from a pipeline that scores no entities;
- 503 with Retry-After: `--max-queue` requests already wait, or the model is not loaded (yet);
- 500: the pipeline raised on these texts; the answer's `error_id` is logged with the traceback,
  and the service goes on serving the other requests.

`app_from_environment` is the factory uvicorn calls in each worker process (`server`).
"""
import logging
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, Dict, List, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from .batcher import Batcher, NotReady, PipelineError, QueueFull
from .logs import LOGGER, access_line
from .metrics import ServiceMetrics
from .model import EntityModel, response
from .page import PAGE, render
from .schema import EntitiesRequest, EntitiesResponse, ErrorResponse
from .settings import ServeSettings

RETRY_AFTER_S = 1
ERRORS = {code: {"model": ErrorResponse} for code in (400, 413, 422, 500, 503)}


def _error(status: int, message: str, headers: Optional[Dict[str, str]] = None, **fields: Any) -> JSONResponse:
    return JSONResponse({"error": message, **fields}, status_code=status, headers=headers)


def _field(loc: List[Any]) -> str:
    """A validation error's place, "texts.2" or "body" (FastAPI puts "body" first)."""
    parts = [str(part) for part in loc[1:]] if loc and loc[0] == "body" else [str(part) for part in loc]
    return ".".join(parts) or "body"


class BodyTooLarge(HTTPException):
    def __init__(self):
        super().__init__(413)


class BodyLimit:
    """413 for a body over `max_bytes`: on its Content-Length before reading any of it, else while
    counting what streams in. Raised from `receive`, so the app answers it like any HTTPException
    (Starlette's own limit answers in plain text, whatever the app's error format)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        declared = int(length) if length.isdigit() else None
        received = 0

        async def limited() -> Dict[str, Any]:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise BodyTooLarge()
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)


class RequestLog:
    """Times each request, counts it in the metrics and logs its line (logs.access_line)."""

    def __init__(self, app: Any, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), 500
        state = scope.setdefault("state", {})

        async def send_status(message: Dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            duration = time.perf_counter() - began
            path = self.metrics.path_label(scope["path"])
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(duration)
            fields = {"method": scope["method"], "path": scope["path"], "status": status,
                      "duration_ms": round(duration * 1000, 2)}
            fields.update({key: state[key] for key in ("texts", "chars", "error_id", "logged_texts") if key in state})
            access_line(fields)


def create_app(settings: ServeSettings, engine: Any = None, metrics: Optional[ServiceMetrics] = None) -> FastAPI:
    """The app around `engine` (started and stopped with the app if it has `start`); without one,
    whoever runs the app sets `app.state.engine` before requests come (Ray Serve's replicas)."""
    metrics = metrics or ServiceMetrics()
    logger = logging.getLogger(LOGGER)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if hasattr(engine, "start"):
            engine.start()
        yield
        if hasattr(engine, "stop"):
            engine.stop(settings.grace_period)

    app = FastAPI(title="spacy-bert-ner", version="1", lifespan=lifespan,
                  description=f"Named entities of texts, from the pipeline {settings.model}.")
    app.state.engine, app.state.metrics = engine, metrics
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog, metrics=metrics)  # added last: outermost, so it sees every answer

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"body: not JSON at character {err['loc'][-1]} ({err.get('ctx', {}).get('error', err['msg'])})"
                    if err.get("type") == "json_invalid" else f"{_field(list(err['loc']))}: {err['msg']}"
                    for err in exc.errors()]
        return _error(422, "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 413:
            message = (f"the body is over {settings.max_body_bytes:,} bytes (--max-body-bytes): send fewer "
                       "or shorter texts per request")
        elif exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            message = f"the body is not UTF-8 (byte {exc.__cause__.start}): send JSON encoded as UTF-8"
        return _error(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        request.state.error_id = error_id
        metrics.errors.labels("internal").inc()
        logger.error(f"error {error_id}: {type(exc).__name__} answering {request.url.path}", exc_info=exc,
                     extra={"fields": {"error_id": error_id}})
        return _error(500, f"internal error {error_id} (logged on the server)", error_id=error_id)

    @app.post("/v1/entities", response_model=EntitiesResponse, responses=ERRORS,
              summary="The entities of each text, with offsets, labels and scores")
    async def entities(body: EntitiesRequest, request: Request) -> Any:
        texts = body.all_texts()
        request.state.texts, request.state.chars = len(texts), sum(map(len, texts))
        if settings.log_texts:
            request.state.logged_texts = texts
        if len(texts) > settings.max_texts:
            return _error(422, f"texts: {len(texts)} texts, and a request takes at most {settings.max_texts} "
                          "(--max-texts): send them in several requests")
        engine = request.app.state.engine
        if body.min_score is not None and engine.is_ready() and not engine.scored:
            return _error(422, "min_score: this model gives no entity scores; leave out min_score")
        try:
            found = await engine.entities(texts)
        except QueueFull as err:
            metrics.errors.labels("queue_full").inc()
            return _error(503, f"busy: {err}; retry later", headers={"Retry-After": str(RETRY_AFTER_S)})
        except NotReady as err:
            metrics.errors.labels("not_ready").inc()
            return _error(503, str(err), headers={"Retry-After": str(RETRY_AFTER_S)})
        except PipelineError as err:
            error_id = uuid.uuid4().hex[:12]
            request.state.error_id = error_id
            metrics.errors.labels("pipeline").inc()
            logger.error(f"error {error_id}: the pipeline raised {err} on a request of {len(texts)} texts",
                         exc_info=err.__cause__, extra={"fields": {"error_id": error_id}})
            return _error(500, f"the pipeline failed on these texts: error {error_id} (logged on the server)",
                          error_id=error_id)
        if body.min_score is not None and not engine.scored:
            return _error(422, "min_score: this model gives no entity scores; leave out min_score")
        metrics.texts.inc(len(texts))
        metrics.chars.inc(request.state.chars)
        results = [response(text, ents, body.min_score) for text, ents in zip(texts, found)]
        if body.render:
            for text, result in zip(texts, results):
                result["html"] = render(text, result["entities"])
        # As it is: response_model (the OpenAPI document's) would validate what model.response built
        return JSONResponse({"results": results})

    @app.get("/health", summary="The process is alive")
    async def health() -> Dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="The model is loaded and has answered a warm-up call",
             responses={503: {"model": ErrorResponse}})
    async def ready(request: Request) -> Any:
        engine = request.app.state.engine
        if engine is not None and engine.is_ready():
            return {"status": "ready", "model": settings.model}
        failure = getattr(engine, "failure", None)
        return _error(503, failure or "loading the model", headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, summary="A page to try the model on pasted text")
    async def page() -> str:
        return PAGE

    return app


def local_app(settings: ServeSettings) -> FastAPI:
    """The app with this process's model thread."""
    metrics = ServiceMetrics()
    engine = Batcher(lambda: EntityModel(settings), settings.max_batch_texts, settings.batch_wait_ms / 1000,
                     settings.max_queue, metrics)
    return create_app(settings, engine, metrics)


def app_from_environment() -> FastAPI:
    """uvicorn's factory in each worker: the settings `serve` put in the environment."""
    return local_app(ServeSettings.from_environment())
