"""One small, seeded training loop shared by the lesson models."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch


def fit(
    model: torch.nn.Module,
    batch: Callable[[torch.Generator], Any],
    loss: Callable[[torch.nn.Module, Any], torch.Tensor],
    *,
    steps: int,
    lr: float = 3e-3,
    seed: int = 0,
    log_every: int = 0,
) -> dict:
    """Train ``model`` with AdamW for ``steps`` steps and return what happened.

    ``batch(generator)`` draws one training batch; ``loss(model, batch)`` is
    the scalar to minimise. The learning rate decays linearly to zero, which
    lets these small models settle within a few hundred steps.

    Returns ``{"losses": [...], "seconds": float, "cpu_seconds": float}`` (wall
    clock and this process's CPU time); the model is left in eval mode.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / steps)
    losses, start, cpu = [], time.perf_counter(), time.process_time()
    model.train()
    for i in range(steps):
        value = loss(model, batch(gen))
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(value.detach()))
        if log_every and (i + 1) % log_every == 0:
            print(f"step {i + 1}/{steps}  loss {sum(losses[-log_every:]) / log_every:.4f}")
    model.eval()
    return {
        "losses": losses,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }
