"""The machine a benchmark ran on, as its header prints it: the figures depend on the processor.

One AMD EPYC of this project's kind is a Zen 3 with AVX2 only, another a Zen 5 with AVX-512; the
vector width and AMX's matrix tiles change the speed of matrix products and exponentials, so every
benchmark names the processor's family, model and widest vector instructions with its figures.
"""

from __future__ import annotations

import os
import platform

__all__ = ["cpu_model"]


def cpu_model() -> str:
    """The processor's name, family and model, its widest vector instructions and whether it has
    AMX (the vector width and matrix tiles change the matmul and exponential speeds: one AMD EPYC
    of this kind is a Zen 3 with AVX2 only, another a Zen 5 with AVX-512)."""
    name, flags, family, model = platform.processor() or "unknown", "", "", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and name in ("unknown", "", "x86_64"):
                    name = value
                elif key == "cpu family" and not family:
                    family = value
                elif key == "model" and not model:
                    model = value
                elif key == "flags":
                    flags = f" {value} "
                    break
    except OSError:
        pass
    vector = "AVX-512" if " avx512f " in flags else "AVX2" if " avx2 " in flags else "no AVX2"
    amx = "AMX" if " amx_tile " in flags else "no AMX"
    where = f"family {family} model {model}, " if family else ""
    return f"{name} ({where}{vector}, {amx}, {os.cpu_count()} logical cores)"
