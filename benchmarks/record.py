"""Benchmark for issue 15: training throughput with ``aw.record(..., every=100)`` against without it.

The model is the translation lesson's (``notebooks/lessons/translation.py``:
a 2 + 2 layer encoder-decoder, width 64, 4 heads), trained as its lesson
trains it (AdamW, batches of 64 dates, gradient clipping). One loop is the
bare training loop; the other is the same loop with ``rec.step()`` after each
optimiser step, recording the attention on one teacher-forced probe date
every 100 steps (training step 0 included). Both start from the same seed
and, after a warm-up of each, advance in lockstep in one process: a block of
100 steps of one, then of the other (which goes first alternates), so that a
shared machine getting busier or quieter slows both alike. The ratio of the
total times (steps per second with the recorder / without) is the target: at
least 0.95. The median of the block ratios and the CPU-time ratio are printed
beside it, and the losses of the two loops are compared: they must be
bit-identical (``torch.equal``), as the recorder promises.

Run: ``python benchmarks/record.py`` (1,000 steps of each loop, about 40 s on 2
idle cores), ``--quick`` for a smoke run (300 steps), ``--steps N --every E
--threads T`` to change it.
The exit status is 0 only if the ratio reaches 0.95 and the losses agree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))

from lessons import translation  # noqa: E402

import attnwidget as aw  # noqa: E402

TARGET = 0.95


def probe_batch() -> dict:
    """One date, teacher-forced: ``<s>`` and its digits in one decoder forward."""
    source, target, _ = translation.make_example(1992, 3, 21)
    return {
        "source": translation.encode_source(source)[None],
        "target": torch.tensor([[translation.TGT_ID[t] for t in ["<s>"] + target]]),
    }


class Trainer:
    """One seeded training loop of the lesson model, run a block of steps at a time."""

    def __init__(self, data, every: int | None):
        self.src, self.tgt = data
        torch.manual_seed(0)
        self.model = translation.Translator()
        self.gen = torch.Generator().manual_seed(0)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=2e-3, weight_decay=0.01)
        self.rec = aw.record(self.model, probe_batch(), every=every) if every else None
        self.losses: list[torch.Tensor] = []
        self.model.train()

    def run(self, steps: int) -> tuple[float, float]:
        """``steps`` optimiser steps; returns (wall seconds, CPU seconds)."""
        model, opt = self.model, self.opt
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            idx = torch.randint(0, len(self.src), (64,), generator=self.gen)
            s, t = self.src[idx], self.tgt[idx]
            loss = F.cross_entropy(model(s, t[:, :-1]).flatten(0, 1), t[:, 1:].flatten(), ignore_index=0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            self.losses.append(loss.detach())
            if self.rec is not None:
                self.rec.step()
        return time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="optimiser steps of each loop")
    parser.add_argument("--every", type=int, default=100, help="optimiser steps between records")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 steps")
    args = parser.parse_args()
    if args.quick:
        args.steps = 300
    if args.threads:
        torch.set_num_threads(args.threads)
    data = translation.training_data(20000, seed=0)
    for every in (None, args.every):  # warm-up: first calls, the allocator's heap, the capture's imports
        Trainer(data, every).run(50)

    # both loops advance in lockstep, one block of `every` steps at a time (one record per block of
    # the recorded loop), and which runs first alternates: a machine that gets busier or quieter
    # slows both alike, which comparing two whole passes on a shared machine cannot promise
    bare, recorded = Trainer(data, None), Trainer(data, args.every)
    times: dict[str, list[tuple[float, float]]] = {"bare": [], "recorded": []}
    blocks = -(-args.steps // args.every)
    for j in range(blocks):
        n = min(args.every, args.steps - j * args.every)
        order = [("bare", bare), ("recorded", recorded)]
        for name, trainer in order if j % 2 == 0 else order[::-1]:
            times[name].append(trainer.run(n))
    wall = {k: sum(w for w, _ in v) for k, v in times.items()}
    cpu = {k: sum(c for _, c in v) for k, v in times.items()}
    pairs = [b[0] / r[0] for b, r in zip(times["bare"], times["recorded"])]
    ratio = wall["bare"] / wall["recorded"]
    same = torch.equal(torch.stack(bare.losses), torch.stack(recorded.losses))
    assert recorded.rec is not None
    print(
        f"translation lesson model, {args.steps} steps in {blocks} blocks, recorder every {args.every} "
        f"({recorded.rec.capture.steps} records), {torch.get_num_threads()} thread(s)"
    )
    print(f"  without the recorder  {args.steps / wall['bare']:8.1f} steps/s")
    print(f"  with the recorder     {args.steps / wall['recorded']:8.1f} steps/s")
    print(
        f"  ratio {ratio:.3f} (target >= {TARGET}); median of the {blocks} block ratios "
        f"{statistics.median(pairs):.3f}; CPU-time ratio {cpu['bare'] / cpu['recorded']:.3f}"
    )
    print(f"  losses bit-identical with and without: {'yes' if same else 'NO'}")
    ok = ratio >= TARGET and same
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
