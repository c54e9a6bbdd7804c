"""Where the int8 encoder loses its accuracy: each quantized node of the graph left in float32 alone.

    python benchmarks/int8_sensitivity.py MODEL DEV.spacy [--test TEST.spacy] [--docs 300] [--top 2,4,8]
        [--output benchmarks/results/int8_sensitivity.json]

`cpu_inference = "int8"` (components/int8.py) quantizes every node of the fused encoder that
ONNX Runtime's dynamic quantization handles (the attention blocks, the other matrix products,
the embeddings). This builds the fused float32 graph of the trained pipeline MODEL once, then,
for each of those nodes, the int8 graph with that one node kept in float32, and predicts the
first --docs documents of DEV.spacy as raw text, as `predict` does. A node's cost is how many of
float32's entities int8 changes (entities of float32 not found, plus entities float32 does not
find, over float32's) with all nodes quantized, minus the same with that node in float32.

Whether a few nodes carry the loss (then keeping them in float32 is cheap) or it is spread over
the graph is what this answers; the ranking is made on dev only. With --test, the graphs with the
--top K costliest nodes in float32 (K = 0 is the shipped graph) are scored on the test split,
raw text and gold tokens, beside float32 and beside all nodes with full 8-bit weights (the
shipped graph uses 7, see `quantize_int8`), with the pipeline's words/s on the same documents.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import onnx
from onnxruntime.quantization.registry import IntegerOpsRegistry

from spacy_bert_ner.components import int8
from spacy_bert_ner.evaluation import scorer
from spacy_bert_ner.evaluation.runner import predict, read_gold, to_sentences
from spacy_bert_ner.jsonfiles import write_json
from spacy_bert_ner.inference.loading import load_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import machine  # noqa: E402

Entities = List[Set[Tuple[int, int, str]]]


def quantizable(graph: Path) -> List[Tuple[str, str]]:
    """(name, op type) of each node the dynamic quantizer turns into int8: an op it knows, with
    a weight (an initializer) among its inputs."""
    model = onnx.load(str(graph), load_external_data=False)
    weights = {tensor.name for tensor in model.graph.initializer}
    return [(node.name, node.op_type) for node in model.graph.node
            if node.op_type in IntegerOpsRegistry and any(name in weights for name in node.input)]


def entity_sets(nlp, docs, tokenization: str = scorer.RAW_TEXT) -> Entities:
    return [{(start, end, label) for start, end, label, _ in found} for found in predict(nlp, docs, tokenization)]


def changed(reference: Entities, other: Entities) -> float:
    return sum(len(a ^ b) for a, b in zip(reference, other)) / max(1, sum(len(a) for a in reference))


def f1(nlp, docs, tokenization: str) -> float:
    units = [unit for gold, found in zip(docs, predict(nlp, docs, tokenization))
             for unit in to_sentences(gold, found, tokenization)[0]]
    return float(scorer.score(units)["ents_f"])


def main(argv: Sequence[str] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("dev", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--docs", type=int, default=300, help="dev documents the ranking predicts")
    parser.add_argument("--top", default="2,4,8", help="with --test: numbers of costliest nodes kept in float32")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/int8_sensitivity.json"))
    args = parser.parse_args(argv)
    nlp = load_pipeline(args.model)
    shim = nlp.get_pipe("transformer").model.layers[0].shims[0]
    names = int8.input_names(shim._hfmodel.tokenizer)
    dev = read_gold(args.dev, nlp)[0][:args.docs]
    reference = entity_sets(nlp, dev)
    results: Dict[str, object] = {"model": args.model, "dev": str(args.dev), "dev_docs": len(dev),
                                  "recipe": int8.RECIPE, "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        shim._model.eval()
        fused = int8.fuse_transformer(int8.export_onnx(shim._model, names, Path(tmp) / "encoder.onnx"),
                                      shim._model, names, Path(tmp) / "encoder.fused.onnx")
        nodes = quantizable(fused)

        def use(exclude: Sequence[str], reduce_range: bool = True) -> None:
            path = int8.quantize_int8(fused, Path(tmp) / "encoder.int8.onnx", exclude, reduce_range)
            shim.int8 = int8.Int8Encoder(path.read_bytes(), names)

        use(())
        base = changed(reference, entity_sets(nlp, dev))
        print(f"{len(nodes)} quantized nodes; all int8: {base:.4f} of float32's dev entities changed", flush=True)
        costs = []
        for i, (node, op_type) in enumerate(nodes):
            use([node])
            cost = base - changed(reference, entity_sets(nlp, dev))
            costs.append({"node": node, "op_type": op_type, "cost": cost})
            print(f"[{i + 1}/{len(nodes)}] {op_type:24} {node:60} {cost:+.4f}", flush=True)
        costs.sort(key=lambda c: -c["cost"])
        results.update(all_int8_changed=base, nodes=costs)
        if args.test:
            test = read_gold(args.test, nlp)[0]
            n_words = sum(len(doc) for doc in test)
            scored = {}
            for k in [None, "8bit", 0] + [int(k) for k in args.top.split(",")]:
                shim.int8 = None
                if k == "8bit":
                    use([], reduce_range=False)
                elif k is not None:
                    use([c["node"] for c in costs[:k]])
                predict(nlp, test[:64], scorer.RAW_TEXT)  # the session made, caches warm
                start = time.perf_counter()
                raw = f1(nlp, test, scorer.RAW_TEXT)
                seconds = time.perf_counter() - start
                name = {None: "fp32", "8bit": "int8_8bit_weights"}.get(k, f"int8_top{k}_fp32")
                scored[name] = {"raw_text_f": raw, "gold_tokens_f": f1(nlp, test, scorer.GOLD_TOKENS),
                                "raw_text_words_per_s": n_words / seconds,
                                "fp32_nodes": [c["node"] for c in costs[:k]] if isinstance(k, int) else []}
                print(f"{name}: raw {raw:.4f}, gold {scored[name]['gold_tokens_f']:.4f}, "
                      f"{n_words / seconds:.0f} words/s", flush=True)
            results.update(test=str(args.test), test_docs=len(test), scores=scored)
    write_json(args.output, results)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
