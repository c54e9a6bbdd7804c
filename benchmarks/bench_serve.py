"""`spacy-bert-ner serve` under load, beside in-process `nlp.pipe` on the same texts.

    flock /tmp/bench.lock python -m benchmarks.bench_serve MODEL [--data FILE.iob2]
        [--concurrency 1,8,32] [--requests 2000] [--memory-marks 1000,10000] [--max-seconds 120]
        [--output benchmarks/results/serve.json]

The sentences of a UNER IOB2 file (default: the Danish DDT test split), one text per request as
an application would send them, loopback only:

- `nlp_pipe`: the pipeline loaded as the service loads it (`load_pipeline`), `nlp.pipe` over the
  texts with the service's batch size (`--max-batch-texts`), in this process: texts/s; and
  `predict_path`: the same through `pipe_entities`, the call `predict` and the service make.
- then the service in a subprocess (`serve MODEL`, defaults but for `--max-queue`, which is the
  highest concurrency so that no request is refused), and for each concurrency C an asyncio
  client (httpx) with C connections, each sending its next request when the last is answered,
  `--requests` requests or `--max-seconds`, whichever ends first: texts/s, latency p50/p95/p99,
  errors (any answer but 200, or no answer), the ratio to `nlp_pipe`, and the CPU seconds the
  service and the client used, and the mean texts per batch the service ran.
- memory, before those runs: the service's resident set size (psutil) after `--memory-marks`
  requests (the first sent to it), at the highest concurrency, each mark reached within
  `--memory-max-seconds` (else the requests it reached are recorded); `growth` is the last
  mark's against the first's.

The client shares the machine's cores with the service, as nlp.pipe shares them with nothing:
on a machine of few cores the ratio is a lower bound of what a separate client machine would see.
"""
import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from spacy_bert_ner.jsonfiles import write_json

from benchmarks.bench_predict import DEFAULT_DATA, read_sentences

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def pipe_rates(model: str, texts: List[str], batch_size: int) -> Dict[str, Dict[str, Any]]:
    """In this process, after a warm-up batch: `nlp_pipe` (nlp.pipe as it is) and `predict_path`
    (long_texts.pipe_entities, predict's and the service's call: batches sorted by length)."""
    from spacy_bert_ner.inference.engine import scores_key
    from spacy_bert_ner.inference.loading import load_pipeline
    from spacy_bert_ner.inference.long_texts import pipe_entities

    nlp = load_pipeline(model)
    list(nlp.pipe(texts[:batch_size], batch_size=batch_size))
    rates = {}
    for name, run in (("nlp_pipe", lambda: [len(doc.ents) for doc in nlp.pipe(texts, batch_size=batch_size)]),
                      ("predict_path", lambda: [len(ents) for ents, _ in pipe_entities(
                          nlp, ((text, None) for text in texts), batch_size=batch_size, scores_key=scores_key(nlp))])):
        start = time.perf_counter()
        entities = sum(run())
        seconds = time.perf_counter() - start
        rates[name] = {"texts": len(texts), "seconds": round(seconds, 3),
                       "texts_per_s": round(len(texts) / seconds, 1), "entities": entities}
        print(f"{name}: {rates[name]['texts_per_s']} texts/s", flush=True)
    return rates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, port: int, options: List[str], log: Path) -> subprocess.Popen:
    import httpx

    command = [sys.executable, "-m", "spacy_bert_ner", "serve", model, "--port", str(port), *options]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("the service was not ready in 300 s")


async def load(url: str, texts: List[str], concurrency: int, requests: int, max_seconds: float,
               offset: int) -> Dict[str, Any]:
    """`requests` requests of one text each over `concurrency` connections, bounded in time."""
    import httpx

    latencies: List[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + max_seconds

    async def connection(client: "httpx.AsyncClient") -> None:
        nonlocal errors, sent
        while sent < requests and time.monotonic() < deadline:
            text = texts[(offset + sent) % len(texts)]
            sent += 1
            began = time.perf_counter()
            try:
                answer = await client.post(url, json={"text": text})
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - began)
            errors += not ok

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(connection(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return {"concurrency": concurrency, "requests": len(latencies), "seconds": round(seconds, 3),
            "texts_per_s": round(len(latencies) / seconds, 1), "errors": errors,
            "latency_ms": {name: round(percentile(latencies, share) * 1000, 2)
                           for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))},
            "mean_latency_ms": round(statistics.fmean(latencies) * 1000, 2)}


def batch_totals(url: str) -> List[float]:
    """The service's count and sum of texts over the batches it ran (its /metrics)."""
    import httpx

    metrics = httpx.get(url.replace("/v1/entities", "/metrics"), timeout=30).text
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("ner_batch_texts_"))
    return [float(values["ner_batch_texts_count"]), float(values["ner_batch_texts_sum"])]


def batch_mean(url: str, before: List[float]) -> float:
    """Texts per batch since `before` (batch_totals)."""
    count, total = (now - then for now, then in zip(batch_totals(url), before))
    return round(total / count, 1) if count else 0.0


def main(argv=None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UNER IOB2 file to take sentences from.")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=2000, help="Requests at each concurrency, at most.")
    parser.add_argument("--max-seconds", type=float, default=120, help="Seconds at each concurrency, at most.")
    parser.add_argument("--memory-marks", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 10000])
    parser.add_argument("--memory-max-seconds", type=float, default=1800,
                        help="Seconds to reach each memory mark, at most (the mark records the requests reached).")
    parser.add_argument("--max-batch-texts", type=int, default=64)
    parser.add_argument("--serve-option", action="append", default=[], help="More options for serve, e.g. "
                        "--serve-option=--batch-wait-ms=2 (repeatable).")
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "serve.json")
    args = parser.parse_args(argv)
    import psutil

    texts, words = read_sentences(args.data)
    results: Dict[str, Any] = {
        "model": args.model, "data": str(args.data), "texts": len(texts), "words": words, "note": args.note,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "load_average_at_start": os.getloadavg()},
        "settings": {"max_batch_texts": args.max_batch_texts, "requests": args.requests,
                     "max_seconds": args.max_seconds, "serve_options": args.serve_option},
    }
    results.update(pipe_rates(args.model, texts, args.max_batch_texts))
    pipe = results["nlp_pipe"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/entities"
    options = ["--max-queue", str(max(args.concurrency)), "--max-batch-texts", str(args.max_batch_texts),
               *args.serve_option]
    log = Path(tempfile.mkdtemp(prefix="bench_serve_")) / "server.log"
    server = start_server(args.model, port, options, log)
    served = 0
    try:
        memory, process = [], psutil.Process(server.pid)
        for mark in sorted(args.memory_marks):
            run = asyncio.run(load(url, texts, max(args.concurrency), mark - served,
                                   args.memory_max_seconds, served))
            served += run["requests"]
            memory.append({"requests": served, "errors": run["errors"],
                           "rss_mb": round(process.memory_info().rss / 2**20, 1)})
            print(f"after {served} requests: {memory[-1]['rss_mb']} MB resident", flush=True)
        results["memory"] = {"marks": memory, "growth": round(memory[-1]["rss_mb"] / memory[0]["rss_mb"] - 1, 4)}
        runs, batches = [], batch_totals(url)
        for concurrency in args.concurrency:
            server_cpu, client_cpu = sum(process.cpu_times()[:2]), time.process_time()
            run = asyncio.run(load(url, texts, concurrency, args.requests, args.max_seconds, served))
            run["server_cpu_s"] = round(sum(process.cpu_times()[:2]) - server_cpu, 2)
            run["mean_batch_texts"] = batch_mean(url, batches)
            batches = batch_totals(url)
            run["client_cpu_s"] = round(time.process_time() - client_cpu, 2)
            served += run["requests"]
            run["ratio_to_nlp_pipe"] = round(run["texts_per_s"] / pipe["texts_per_s"], 3)
            run["ratio_to_predict_path"] = round(run["texts_per_s"] / results["predict_path"]["texts_per_s"], 3)
            runs.append(run)
            print(f"concurrency {concurrency}: {run['texts_per_s']} texts/s ({run['ratio_to_nlp_pipe']}x nlp.pipe), "
                  f"p50/p95/p99 {run['latency_ms']} ms, {run['errors']} errors", flush=True)
        results["runs"] = runs
    finally:
        server.send_signal(signal.SIGTERM)
        results["server_exit"] = server.wait(60)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    write_json(args.output, results)
    print(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main()
