"""`cpu_inference = "auto"`: the encoder's arithmetic picked for the CPU the pipeline loads on.

The rule follows the CPU-inference table in BENCHMARKS.md (`predict` words/s against fp32 on four
kinds of CPU): int8 was the fastest on every x86 CPU measured without AMX (with VNNI, ONNX
Runtime's int8 fast path, and without, where the 7-bit weights keep it accurate), and bf16 autocast
the fastest with AMX, whose tiles run bf16; bf16 without native support is several times slower
than fp32, and no other kind of CPU was measured, so elsewhere it stays fp32.
"""
import platform
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import FrozenSet, Tuple

INT8_FAST = {"avx512_vnni", "avx_vnni", "amx_int8"}  # int8 dot products in one instruction
NATIVE_BF16 = {"avx512_bf16", "amx_bf16"}
AMX = {"amx_bf16", "amx_tile"}


@lru_cache(maxsize=1)
def cpu_flags() -> FrozenSet[str]:
    """The instruction-set flags Linux reports for the first CPU (none elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def has_onnxruntime() -> bool:
    return find_spec("onnxruntime") is not None and find_spec("onnx") is not None


def choose(flags: FrozenSet[str], onnxruntime: bool, machine: str) -> Tuple[str, str]:
    """(setting, why) for a CPU with these flags."""
    x86 = machine.lower() in ("x86_64", "amd64", "i686", "x86")
    if flags & AMX and flags & NATIVE_BF16:
        return "bf16", "the CPU has AMX, where bf16 autocast was the fastest measured"
    if x86 and onnxruntime and "avx2" in flags:
        fast = sorted(flags & INT8_FAST)
        return "int8", (f"the CPU has {', '.join(fast)} (int8's fast path)" if fast else
                        "int8 was the fastest measured on x86 CPUs with AVX2 and no AMX")
    if flags & NATIVE_BF16:
        return "bf16", (f"the CPU has native bf16 ({', '.join(sorted(flags & NATIVE_BF16))}) and ONNX Runtime "
                        "is not installed for int8 (pip install 'spacy-bert-ner[int8]')")
    if x86 and "avx2" in flags:
        return "fp32", "int8 would be faster, and ONNX Runtime is not installed (pip install 'spacy-bert-ner[int8]')"
    return "fp32", f"no faster arithmetic was measured on this CPU ({machine or 'unknown'})"


def auto_cpu_inference() -> Tuple[str, str]:
    """(setting, why) for this machine's CPU."""
    return choose(cpu_flags(), has_onnxruntime(), platform.machine())
