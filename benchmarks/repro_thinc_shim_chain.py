"""Minimal reproduction: thinc's PyTorchShim keeps every step's parameter tensors alive.

    python benchmarks/repro_thinc_shim_chain.py [--steps 200]

A torch Linear layer in thinc's PyTorchWrapper, one Adam step at a time. After each
`finish_update` the number of live torch tensors grows by one per parameter with thinc's own shim,
and stays flat with spacy_bert_ner's (components/encoder.py, `CPUInferenceShim.finish_update`,
says why). Prints both counts; exits 1 if thinc's shim no longer grows (the upstream cause is gone
and the override can go) or ours does.
Self-contained, so that it can go into an upstream report as it is: it imports nothing from
benchmarks/, and counts tensors as benchmarks/memory_probe.py's `live_tensors` does.
"""
import argparse
import gc
import sys
import warnings
from types import MethodType

import torch
from thinc.api import Adam, PyTorchWrapper

from spacy_bert_ner.components.encoder import CPUInferenceShim


def live_tensors() -> int:
    gc.collect()
    with warnings.catch_warnings():  # isinstance touches torch.distributed's deprecated reduce_op
        warnings.simplefilter("ignore", FutureWarning)
        return sum(isinstance(obj, torch.Tensor) for obj in gc.get_objects())


def growth(steps: int, ours: bool) -> int:
    model = PyTorchWrapper(torch.nn.Linear(8, 8))
    if ours:
        shim = model.shims[0]
        shim.finish_update = MethodType(CPUInferenceShim.finish_update, shim)
    optimizer = Adam(0.001)
    X = model.ops.alloc2f(4, 8) + 1
    counts = []
    for step in range(steps + 1):
        Y, backprop = model.begin_update(X)
        backprop(Y)
        model.finish_update(optimizer)
        if step in (0, steps):
            counts.append(live_tensors())
    return counts[1] - counts[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    steps = parser.parse_args().steps
    thinc_growth, our_growth = growth(steps, ours=False), growth(steps, ours=True)
    print(f"live torch tensors added over {steps} steps of a Linear layer (2 parameters): "
          f"thinc's PyTorchShim {thinc_growth}, spacy_bert_ner's {our_growth}")
    sys.exit(0 if thinc_growth > 0 and our_growth == 0 else 1)


if __name__ == "__main__":
    main()
