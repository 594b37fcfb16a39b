"""Benchmark for issue 6: keep="stats" memory stays flat with the data, and collection keeps up with the model.

Prints, measured in one run:

- peak RSS of ``collect(keep="stats")`` over 1,000 and over 20,000 samples of
  a small model (each in a fresh process, batches made on the fly), and their
  ratio (flat: about 1.0);
- samples/second of the bare ``torch.no_grad()`` forward loop and of
  ``collect(keep="stats", labels=...)`` over the same batches (best of a few
  interleaved rounds after a warm-up), and their ratio (target: at least 0.8),
  for two small encoders of 128 tokens: 4 layers of width 512 with 8 heads
  (the target model, ~13M parameters) and, for context, width 256 with 4
  heads, where attention is a larger share of the work. Process CPU seconds
  are printed beside the wall times, since on a shared machine the wall time
  also depends on what else runs (CPU time also counts torch's worker threads
  spinning while the single-threaded statistics run, so its ratio is lower).

The exit status is 0 only if both targets are met (RSS ratio at most 1.10,
throughput ratio of the target model at least 0.8). Run: ``python benchmarks/collect.py``
(``--quick`` for a short smoke run, ``--threads N`` to set torch's threads).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

VOCAB = 1000


class Block(nn.Module):
    """Pre-norm transformer block: SDPA self-attention and a 4x MLP."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    """Token ids ``[batch, length]`` -> 2 class logits."""

    def __init__(self, dim: int, heads: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.blocks = nn.Sequential(*(Block(dim, heads) for _ in range(layers)))
        self.head = nn.Linear(dim, 2)

    def forward(self, ids):
        return self.head(self.blocks(self.embed(ids)).mean(dim=1))


def make_model(dim: int, heads: int, layers: int) -> Encoder:
    torch.manual_seed(0)
    return Encoder(dim, heads, layers).eval()


def batches(num_samples: int, batch: int, length: int, seed: int = 0):
    """``(ids, labels)`` batches made on the fly, so the data set itself takes no memory."""
    g = torch.Generator().manual_seed(seed)
    for start in range(0, num_samples, batch):
        n = min(batch, num_samples - start)
        yield torch.randint(0, VOCAB, (n, length), generator=g), torch.randint(0, 2, (n,), generator=g)


def peak_rss_child(num_samples: int) -> None:
    """In a fresh process: keep="stats" over ``num_samples``; print the peak RSS in MiB."""
    import attnwidget as aw

    cap = aw.collect(make_model(64, 4, 2), batches(num_samples, 50, 32), keep="stats", labels=1,
                     progress=False)
    assert cap.stats["blocks.0"][0]["count"][0] == num_samples
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20)


def peak_rss(num_samples: int) -> float:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-child", str(num_samples)],
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def throughput(dim: int, heads: int, num_samples: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Best-of-``repeats`` ``(wall, cpu)`` seconds of the bare loop and of collect(keep="stats")."""
    import attnwidget as aw

    model = make_model(dim, heads, 4)
    data = list(batches(num_samples, 32, 128, seed=1))

    def bare():
        with torch.no_grad():
            for ids, _ in data:
                model(ids)

    def collected():
        aw.collect(model, data, keep="stats", labels=1, progress=False)

    warm = data[:2]
    with torch.no_grad():  # warm up both paths
        for ids, _ in warm:
            model(ids)
    aw.collect(model, warm, keep="stats", labels=1, progress=False)
    best = {"bare": (float("inf"), 0.0), "collect": (float("inf"), 0.0)}
    for _ in range(repeats):
        for name, fn in (("bare", bare), ("collect", collected)):  # interleaved: drift hits both
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            if wall < best[name][0]:
                best[name] = (wall, cpu)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.rss_child:
        peak_rss_child(args.rss_child)
        return
    small, large = (500, 2_000) if args.quick else (1_000, 20_000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    a, b = peak_rss(small), peak_rss(large)
    print(f"keep='stats' peak RSS, {small:,} samples:  {a:8.1f} MiB")
    print(f"keep='stats' peak RSS, {large:,} samples: {b:8.1f} MiB")
    print(f"peak RSS ratio {large:,} / {small:,} samples: {b / a:.3f}  (flat: ~1.0)")
    n = 64 if args.quick else 256
    ratios = {}
    for dim, heads in ((512, 8), (256, 4)):
        best = throughput(dim, heads, n, 1 if args.quick else 3)
        print(f"throughput, {n} samples, width {dim}, {heads} heads, 4 layers, batch 32, "
              f"length 128, 2 classes:")
        for name, label in (("bare", "bare forward loop"), ("collect", "collect(keep='stats')")):
            wall, cpu = best[name]
            print(f"  {label:22s} {n / wall:7.1f} samples/s  ({wall:6.2f} s wall, {cpu:6.2f} s CPU)")
        ratios[dim] = best["bare"][0] / best["collect"][0]
        print(f"  ratio collect / bare: {ratios[dim]:.3f} wall, "
              f"{best['bare'][1] / best['collect'][1]:.3f} CPU"
              + ("  (target >= 0.8)" if dim == 512 else "  (context)"))
    ratio = ratios[512]
    ok = b / a <= 1.10 and ratio >= 0.8
    print("targets met" if ok else "TARGET MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
