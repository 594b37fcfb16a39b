"""Benchmark for issue 6: keep="stats" memory stays flat with the data, and collection keeps up with the model.

Prints, measured in one run:

- peak RSS of ``collect(keep="stats")`` over 1,000 and over 20,000 samples of
  a small model (each in a fresh process, batches made on the fly), and their
  ratio (flat: about 1.0);
- samples/second of the bare ``torch.no_grad()`` forward loop and of
  ``collect(keep="stats", labels=...)`` over the same batches, in interleaved
  rounds after a warm-up, for two small encoders of 128 tokens: 4 layers of
  width 512 with 8 heads (the target model, ~13M parameters) and, for
  context, width 256 with 4 heads, where attention is a larger share of the
  work. The ratio of the fastest rounds is the target (at least 0.8); the
  median of the per-round ratios is printed beside it, with CPU seconds and
  each loop's median minor page faults;
- for context, the target model again in a child process whose glibc keeps
  freed memory (``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_``, the
  same for both loops). With glibc's defaults the model's own activations
  (32 MiB MLP tensors) are returned to the kernel and faulted in again each
  batch, more often while collect's buffers share the heap; the child shows
  what the work itself costs.

The exit status is 0 only if both targets are met (RSS ratio at most 1.10,
throughput ratio of the target model at least 0.8). Run: ``python benchmarks/collect.py``
(``--quick`` for a short smoke run, ``--threads N`` to set torch's threads).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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


def minor_faults() -> int:
    """Page faults served without I/O so far in this process (first touches of fresh memory)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def throughput(dim: int, heads: int, num_samples: int, rounds: int) -> dict[str, list[tuple]]:
    """``(wall s, cpu s, minor faults)`` per round of the bare loop and of collect(keep="stats").

    Rounds alternate which loop runs first, so drift of the machine hits both.
    """
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
    runs: dict[str, list[tuple]] = {"bare": [], "collect": []}
    for r in range(rounds):
        order = (("bare", bare), ("collect", collected))
        for name, fn in order if r % 2 == 0 else order[::-1]:
            t, c, f = time.perf_counter(), time.process_time(), minor_faults()
            fn()
            runs[name].append((time.perf_counter() - t, time.process_time() - c, minor_faults() - f))
    return runs


def report(dim: int, heads: int, n: int, runs: dict[str, list[tuple]], role: str) -> float:
    """Print one model's figures; return the best-of ratio (fastest collect vs fastest bare loop)."""
    print(f"throughput, {n} samples, width {dim}, {heads} heads, 4 layers, batch 32, length 128, "
          f"2 classes, {len(runs['bare'])} rounds:")
    best = {name: min(r, key=lambda x: x[0]) for name, r in runs.items()}
    for name, label in (("bare", "bare forward loop"), ("collect", "collect(keep='stats')")):
        wall, cpu, _ = best[name]
        faults = statistics.median(f for _, _, f in runs[name])
        print(f"  {label:22s} {n / wall:7.1f} samples/s  (best {wall:6.2f} s wall, {cpu:6.2f} s CPU; "
              f"median {faults / 1000:6.0f}k page faults)")
    ratio = best["bare"][0] / best["collect"][0]
    paired = statistics.median(b[0] / c[0] for b, c in zip(runs["bare"], runs["collect"]))
    print(f"  ratio collect / bare: {ratio:.3f} best-of, {paired:.3f} median of paired rounds  ({role})")
    return ratio


def allocator_child(rounds: int, n: int) -> None:
    """The target model again in a child whose glibc keeps freed memory (context, see main)."""
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_=str(1 << 34), MALLOC_MMAP_THRESHOLD_=str(1 << 30))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--throughput-child", str(rounds),
                          str(n)], check=True, capture_output=True, text=True, env=env)
    print(out.stdout.rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--throughput-child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.rss_child:
        peak_rss_child(args.rss_child)
        return
    if args.throughput_child:
        rounds, n = args.throughput_child
        report(512, 8, n, throughput(512, 8, n, rounds), "context")
        return
    small, large = (500, 2_000) if args.quick else (1_000, 20_000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    a, b = peak_rss(small), peak_rss(large)
    print(f"keep='stats' peak RSS, {small:,} samples:  {a:8.1f} MiB")
    print(f"keep='stats' peak RSS, {large:,} samples: {b:8.1f} MiB")
    print(f"peak RSS ratio {large:,} / {small:,} samples: {b / a:.3f}  (flat: ~1.0)")
    n = 64 if args.quick else 256
    rounds = 1 if args.quick else 5
    ratios = {}
    for dim, heads in ((512, 8), (256, 4)):
        runs = throughput(dim, heads, n, rounds)
        ratios[dim] = report(dim, heads, n, runs, "target >= 0.8" if dim == 512 else "context")
    if sys.platform.startswith("linux") and not args.quick:
        print("context: the width-512 model again, in a process where glibc keeps freed memory "
              "(MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_), so neither loop pays page faults "
              "for re-touching its activations:")
        allocator_child(rounds, n)
    ratio = ratios[512]
    ok = b / a <= 1.10 and ratio >= 0.8
    print("targets met" if ok else "TARGET MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
