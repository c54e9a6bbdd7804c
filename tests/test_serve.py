"""`spacy-bert-ner serve` against a real server: a subprocess on a free loopback port with the tiny
trained model (and a component that fails or dawdles on marked texts, tests/serve_trap.py, loaded
with --code). Every endpoint, every answer to bad input, the entities against predict's, the page
in headless Chromium, a stop with a request in flight, and schemathesis against the OpenAPI
document."""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import DEMO, ROOT

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
import serve_trap  # noqa: E402  (tests/ is on the path, as for conftest)
from serve_trap import RAISE, SLOW  # noqa: E402

TRAP = Path(serve_trap.__file__)
MAX_TEXTS, MAX_BODY, MAX_QUEUE, SPLIT = 8, 20_000, 2, 400


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process, self.url, self.log = process, url, log

    def log_lines(self) -> List[str]:
        return self.log.read_text(encoding="utf8").splitlines()


@contextmanager
def running(model: Path, *options: str, ready_s: float = 180) -> Iterator[Server]:
    """The service in a subprocess, once /ready answers 200; stopped (and waited for) afterwards."""
    port = free_port()
    log = model.parent / f"serve-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "spacy_bert_ner", "serve", str(model), "--port", str(port), *options]
    with log.open("w", encoding="utf8") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + ready_s
        while True:
            assert process.poll() is None, log.read_text(encoding="utf8")[-3000:]
            try:
                if httpx.get(server.url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "not ready in time: " + log.read_text(encoding="utf8")[-3000:]
            time.sleep(0.3)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def demo_texts(count: int) -> List[str]:
    lines = (DEMO / "test.iob2").read_text(encoding="utf8").splitlines()
    return [line[len("# text = "):] for line in lines if line.startswith("# text = ")][:count]


@pytest.fixture(scope="module")
def trap_model(trained, tmp_path_factory) -> Path:
    """The tiny trained model with the trap component first."""
    import spacy
    from spacy.util import import_file

    import_file("serve_trap", str(TRAP))
    nlp = spacy.load(trained)
    nlp.add_pipe("serve_test_trap", first=True)
    path = tmp_path_factory.mktemp("serve") / "model"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def server(trap_model) -> Iterator[Server]:
    with running(trap_model, "--code", str(TRAP), "--max-texts", str(MAX_TEXTS), "--max-body-bytes", str(MAX_BODY),
                 "--max-queue", str(MAX_QUEUE), "--split-chars", str(SPLIT), "--batch-wait-ms", "20",
                 "--log-format", "json") as running_server:
        yield running_server


def post(server: Server, body, **kwargs) -> "httpx.Response":
    return httpx.post(server.url + "/v1/entities", json=body, timeout=60, **kwargs)


@pytest.mark.slow
def test_endpoints_answer(server):
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    assert httpx.get(server.url + "/ready").json()["status"] == "ready"
    schema = httpx.get(server.url + "/openapi.json").json()
    assert set(schema["paths"]) >= {"/v1/entities", "/health", "/ready", "/metrics", "/"}
    assert "swagger" in httpx.get(server.url + "/docs").text.lower()
    page = httpx.get(server.url + "/")
    assert page.headers["content-type"].startswith("text/html") and "<textarea" in page.text
    answer = post(server, {"text": demo_texts(1)[0]})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 1
    metrics = httpx.get(server.url + "/metrics").text
    for name in ("ner_requests_total", "ner_request_duration_seconds_bucket", "ner_texts_total", "ner_chars_total",
                 "ner_batch_texts_bucket", "ner_queue_depth", "ner_errors_total"):
        assert name in metrics, name
    assert 'ner_requests_total{path="/v1/entities",status="200"}' in metrics


@pytest.mark.slow
def test_entities_are_predicts_for_the_same_texts(server, trap_model, tmp_path):
    """Short texts, and long ones that both cut at --split-chars and merge back the same way."""
    from spacy_bert_ner.inference.predict import predict

    texts = demo_texts(6) + [" ".join(demo_texts(40)), "\n".join(demo_texts(30)[10:])]
    assert max(map(len, texts)) > 2 * SPLIT
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
    for min_score in (None, 0.5):
        predict(str(trap_model), tmp_path / "in.jsonl", tmp_path / "out.jsonl", split_chars=SPLIT, min_score=min_score)
        expected = [json.loads(line)["entities"] for line in (tmp_path / "out.jsonl").read_text("utf8").splitlines()]
        assert any(expected), "the tiny model finds no entity in these texts: the comparison would be empty"
        body = {"texts": texts} if min_score is None else {"texts": texts, "min_score": min_score}
        answer = post(server, body)
        assert answer.status_code == 200, answer.text
        assert [result["entities"] for result in answer.json()["results"]] == expected
        one = post(server, {"text": texts[-2], **({} if min_score is None else {"min_score": min_score})})
        assert one.json()["results"][0]["entities"] == expected[-2]


@pytest.mark.slow
def test_bad_input_gets_a_clear_answer_and_changes_nothing(server):
    good = post(server, {"texts": demo_texts(3)}).json()

    def answer(content: bytes, status: int, *words: str, **kwargs) -> None:
        response = httpx.post(server.url + "/v1/entities", content=content, timeout=30,
                              headers={"Content-Type": "application/json"}, **kwargs)
        assert response.status_code == status, (content[:80], response.text)
        for word in words:
            assert word in response.json()["error"], (word, response.json())

    answer(b'{"texts": ["a"', 422, "not JSON")
    answer(b'{"textz": ["a"]}', 422, "textz")
    answer(b'{"texts": ["a", 7]}', 422, "texts.1")
    answer(b'{"texts": "a"}', 422, "texts")
    answer(b'{"texts": ["a"], "text": "b"}', 422, "either texts")
    answer(b'{}', 422, "either texts")
    answer(b'{"text": "a", "min_score": 2}', 422, "min_score")
    answer(b'{"text": "a \\ud800 b"}', 422, "text", "surrogate")
    answer(json.dumps({"texts": ["a"] * (MAX_TEXTS + 1)}).encode(), 422, "texts", "--max-texts")
    answer(b'{"text": "caf\xe9"}', 400, "UTF-8")
    big = json.dumps({"text": "x" * MAX_BODY}).encode()
    answer(big, 413, "--max-body-bytes")

    def chunks():  # no Content-Length: counted while it streams in
        for _ in range(MAX_BODY // 1000 + 5):
            yield b" " * 1000

    answer(chunks(), 413, "--max-body-bytes")
    assert post(server, {"texts": demo_texts(3)}).json() == good


def concurrently(*calls):
    """Start each call in a thread (in order, a little apart); the threads and the list their
    results go into (read it after joining them)."""
    results = [None] * len(calls)

    def run(number, call):
        results[number] = call()

    threads = [threading.Thread(target=run, args=(number, call)) for number, call in enumerate(calls)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    return threads, results


@pytest.mark.slow
def test_a_pipeline_error_is_a_500_with_a_logged_id_and_only_that_request_fails(server):
    texts = demo_texts(4)
    threads, results = concurrently(lambda: post(server, {"texts": [texts[0], f"x {RAISE} y"]}),
                                    lambda: post(server, {"texts": texts[1:]}))
    for thread in threads:
        thread.join()
    failed, fine = results
    assert failed.status_code == 500 and fine.status_code == 200, (failed.text, fine.text)
    error_id = failed.json()["error_id"]
    assert error_id in failed.json()["error"]
    logged = [json.loads(line) for line in server.log_lines()]
    assert any(line.get("error_id") == error_id and "traceback" in line for line in logged)
    assert post(server, {"texts": texts}).status_code == 200
    # no text is logged unless --log-texts: neither the texts nor the marker
    assert not any(RAISE in line or texts[1] in line for line in server.log_lines())
    assert 'ner_errors_total{kind="pipeline"} 1.0' in httpx.get(server.url + "/metrics").text


@pytest.mark.slow
def test_a_full_queue_answers_503_and_a_slow_batch_does_not_stall_health(server):
    slow = lambda: post(server, {"text": f"{SLOW} en"})  # noqa: E731
    waiting = [lambda: post(server, {"text": "Hej"})] * MAX_QUEUE
    threads, results = concurrently(slow, *waiting)
    health = httpx.get(server.url + "/health", timeout=5)
    refused = post(server, {"text": "Hej igen"})
    still_running = threads[0].is_alive()
    for thread in threads:
        thread.join()
    assert health.status_code == 200 and still_running  # answered while the slow batch ran
    assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit(), refused.text
    assert "--max-queue" in refused.json()["error"]
    assert [result.status_code for result in results] == [200] * (1 + MAX_QUEUE)


@pytest.mark.slow
def test_logs_are_one_json_line_per_request(server):
    post(server, {"text": "Hej"})
    lines = [json.loads(line) for line in server.log_lines()]  # every line is JSON
    requests = [line for line in lines if line.get("path") == "/v1/entities"]
    assert requests and {"method", "status", "duration_ms"} <= set(requests[-1])
    assert requests[-1]["texts"] == 1 and requests[-1]["chars"] == 3


@pytest.mark.slow
def test_the_page_shows_the_entities_in_chromium(server):
    webdriver = pytest.importorskip("selenium.webdriver")
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    text = next(t for t in demo_texts(40) if post(server, {"text": t}).json()["results"][0]["entities"])
    expected = post(server, {"text": text}).json()["results"][0]["entities"]
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        chrome.get(server.url + "/")
        chrome.find_element(By.ID, "text").send_keys(text)
        chrome.find_element(By.ID, "find").click()
        WebDriverWait(chrome, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.entity"))
        marks = chrome.find_elements(By.CSS_SELECTOR, "#rendered mark.entity")
        rows = chrome.find_elements(By.CSS_SELECTOR, "tr.entity")
        assert len(marks) == len(rows) == len(expected)
        for mark, ent in zip(marks, expected):
            assert ent["text"] in mark.text and f"{ent['label']} {ent['score']:.2f}" in mark.text
        assert [row.find_elements(By.TAG_NAME, "td")[0].text for row in rows] == [e["text"] for e in expected]
    finally:
        chrome.quit()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(server, tmp_path):
    """Property-based requests from /openapi.json (bounded), none of which may get a 500."""
    pytest.importorskip("schemathesis")
    result = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", server.url + "/openapi.json",
                             "--checks", "not_a_server_error", "--max-examples", "40", "--seed", "1",
                             "--request-timeout", "30", "--phases", "examples,coverage,fuzzing",
                             "--report-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def ruler_model(tmp_path_factory) -> Path:
    """A pipeline with an entity ruler and the trap: starts in a moment."""
    import spacy
    from spacy.util import import_file

    import_file("serve_trap", str(TRAP))
    nlp = spacy.blank("da")
    nlp.add_pipe("serve_test_trap")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Aarhus"}])
    path = tmp_path_factory.mktemp("ruler") / "model"
    nlp.to_disk(path)
    return path


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_and_exits_0(ruler_model):
    with running(ruler_model, "--code", str(TRAP), "--grace-period", "20") as server:
        threads, results = concurrently(lambda: post(server, {"text": f"{SLOW} i Aarhus"}))
        time.sleep(0.5)  # the request is in the model thread, which takes SLOW_SECONDS over it
        server.process.send_signal(signal.SIGTERM)
        threads[0].join()
        (answer,) = results
        assert server.process.wait(30) == 0, server.log.read_text(encoding="utf8")[-2000:]
    assert answer.status_code == 200 and answer.json()["results"][0]["entities"][0]["text"] == "Aarhus"
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/health", timeout=2)


@pytest.mark.slow
def test_workers_share_the_port_and_metrics_add_up(ruler_model):
    with running(ruler_model, "--code", str(TRAP), "--workers", "2") as server:
        for _ in range(10):
            assert post(server, {"text": "Aarhus"}).json()["results"][0]["entities"][0]["label"] == "LOC"
        metrics = httpx.get(server.url + "/metrics").text
    assert 'ner_requests_total{path="/v1/entities",status="200"} 10.0' in metrics


class FakeModel:
    """Records each batch; fails on a text "bad"; waits on `gate` while a text is "wait"."""

    scored = False

    def __init__(self):
        self.batches, self.gate = [], threading.Event()

    def entities(self, texts):
        self.batches.append(list(texts))
        if "bad" in texts:
            raise ValueError("bad text")
        if "wait" in texts:
            self.gate.wait(10)
        return [[(0, len(text), "X", None)] for text in texts]

    def warm_up(self):
        self.entities(["warm-up"])


def batcher_with(model, **settings):
    from spacy_bert_ner.serving.batcher import Batcher
    from spacy_bert_ner.serving.metrics import ServiceMetrics

    options = {"max_batch_texts": 64, "batch_wait_s": 0.2, "max_queue": 8, **settings}
    batcher = Batcher(lambda: model, metrics=ServiceMetrics(), **options)
    batcher.start()
    assert batcher.ready.wait(10)
    return batcher


def test_batcher_runs_concurrent_requests_as_one_batch_and_splits_big_ones():
    model = FakeModel()
    batcher = batcher_with(model, max_batch_texts=4)

    async def clients():
        return await asyncio.gather(batcher.entities(["a", "bb"]), batcher.entities(["ccc"]),
                                    batcher.entities(["d", "e", "f"]), batcher.entities([]))

    answers = asyncio.run(clients())
    batcher.stop(5)
    assert model.batches[1:] == [["a", "bb", "ccc", "d"], ["e", "f"]]
    assert answers == [[[(0, 1, "X", None)], [(0, 2, "X", None)]], [[(0, 3, "X", None)]],
                       [[(0, 1, "X", None)], [(0, 1, "X", None)], [(0, 1, "X", None)]], []]


def test_batcher_fails_only_the_request_whose_text_fails():
    from spacy_bert_ner.serving.batcher import PipelineError

    model = FakeModel()
    batcher = batcher_with(model)

    async def clients():
        return await asyncio.gather(batcher.entities(["ok"]), batcher.entities(["x", "bad"]),
                                    batcher.entities(["fine"]), return_exceptions=True)

    good, failed, fine = asyncio.run(clients())
    batcher.stop(5)
    assert isinstance(failed, PipelineError) and isinstance(failed.__cause__, ValueError)
    assert good == [[(0, 2, "X", None)]] and fine == [[(0, 4, "X", None)]]


def test_batcher_refuses_past_max_queue_and_says_when_the_model_did_not_load():
    from spacy_bert_ner.serving.batcher import Batcher, NotReady, QueueFull
    from spacy_bert_ner.serving.metrics import ServiceMetrics

    model = FakeModel()
    batcher = batcher_with(model, max_queue=2, batch_wait_s=0.0)

    async def clients():
        busy = asyncio.ensure_future(batcher.entities(["wait"]))
        await asyncio.sleep(0.3)  # in the model thread now
        queued = [asyncio.ensure_future(batcher.entities([str(n)])) for n in range(2)]
        await asyncio.sleep(0.1)
        with pytest.raises(QueueFull):
            await batcher.entities(["one too many"])
        model.gate.set()
        return await asyncio.gather(busy, *queued)

    assert len(asyncio.run(clients())) == 3
    batcher.stop(5)

    def broken():
        raise OSError("no such model")

    failing = Batcher(broken, 4, 0.0, 2, ServiceMetrics())
    failing.start()
    failing.stop(5)
    assert not failing.is_ready() and "no such model" in failing.failure
    with pytest.raises(NotReady):
        asyncio.run(failing.entities(["a"]))


def test_missing_model_is_one_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "serve", str(tmp_path / "nope")],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1 and "Model not found" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_extra_names_the_pip_line(monkeypatch, capsys):
    from spacy_bert_ner.cli.app import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn raises ImportError
    with pytest.raises(SystemExit) as stop:
        main(["serve", "da_model"])
    assert stop.value.code == 1
    assert "pip install 'spacy-bert-ner[serve]'" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_serve_deployment_answers_as_the_local_service(ruler_model):
    pytest.importorskip("ray.serve")
    texts = ["Jeg bor i Aarhus.", "Ingen steder", f"{RAISE} Aarhus"]
    with running(ruler_model, "--code", str(TRAP), "--engine", "ray", "--replicas", "1", "--cpus-per-replica", "0.5",
                 ready_s=300) as server:
        answer = post(server, {"texts": texts[:2]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"] == [
            {"entities": [{"start": 10, "end": 16, "label": "LOC", "text": "Aarhus", "score": None}]},
            {"entities": []}]
        assert post(server, {"textz": texts}).status_code == 422
        failed = post(server, {"texts": texts})
        assert failed.status_code == 500 and failed.json()["error_id"]
        assert post(server, {"text": texts[0]}).status_code == 200
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(120) == 0
