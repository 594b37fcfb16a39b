"""Benchmark aw.capture against plain sdpa (what users run) and Hugging Face's way of getting weights.

The model is BERT-base shaped (12 layers, 12 heads, hidden 768) with random
weights. The reference is HF's way: the ``eager`` implementation called with
``output_attentions=True``. attnwidget captures the default ``sdpa`` model.
Every configuration runs in a fresh subprocess, so its peak RSS
(``ru_maxrss``) is its own; the table prints absolute figures, the ratios
against the reference measured in the same run, and whether each target is met.

Usage::

    python benchmarks/capture.py            # full run (a few minutes; the 4,096-token reference needs ~11 GiB)
    python benchmarks/capture.py --quick    # small smoke run (under a minute)
    python benchmarks/capture.py --json out.json
    python benchmarks/capture.py --only pooled   # only the long inputs
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_model  # noqa: E402

GIB = 2**30
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# the targets: time ratio at most against plain sdpa (what users run), measured in the same run;
# full resolution at 128 and 512 tokens, pooled (mean heads, max_size=512) at 4,096 and 8,192
FULL_TARGET = 1.1
POOLED_TARGET = 1.5
LONG_RSS_TARGET_GIB = 4.0
ROUNDS = 2


# --------------------------------------------------------------------------- worker (child process)
def build_model(implementation: str, tokens: int):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=max(512, tokens),
    )
    model = transformers.BertModel._from_config(config, attn_implementation=implementation)
    return model.eval()


def worker(spec: dict) -> dict:
    """Measure one configuration in this (fresh) process; returns a JSON-able dict."""
    import psutil
    import torch
    import transformers  # noqa: F401  (same imports in every configuration)

    import attnwidget as aw

    capture = aw.capture  # the engine is imported in every configuration too

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    mode, tokens, repeats = spec["mode"], spec["tokens"], spec["repeats"]
    model = build_model("eager" if mode == "reference" else "sdpa", tokens)
    g = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1000, model.config.vocab_size, (1, tokens), generator=g)
    gc.collect()
    proc = psutil.Process()
    rss_model = proc.memory_info().rss

    def once():
        with torch.inference_mode():
            if mode == "reference":
                out = model(input_ids=input_ids, output_attentions=True)
                return list(out.attentions)
            if mode == "sdpa":
                model(input_ids=input_ids)
                return None
            with capture(model, heads=spec["heads"], max_size=spec.get("max_size")) as cap:
                model(input_ids=input_ids)
            return cap

    times, cpu = [], []
    result = None
    for i in range(repeats + (1 if spec.get("warmup") else 0)):
        result = None
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = once()
        elapsed = time.perf_counter() - t0
        used = time.process_time() - c0
        if spec.get("warmup") and i == 0:
            continue
        times.append(elapsed)
        cpu.append(used)

    check = describe(result, mode, tokens)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    best = min(range(len(times)), key=times.__getitem__)
    return {
        "times": times,
        "time": times[best],
        "cpu": cpu[best],
        "peak_rss": peak,
        "rss_model": rss_model,
        "threads": torch.get_num_threads(),
        "check": check,
    }


def describe(result, mode: str, tokens: int) -> dict:
    """Shapes and a conservation check (each attention row sums to 1) of what was produced."""
    import numpy as np

    if mode == "sdpa":
        return {}
    if mode == "reference":
        a = result[0]
        mass = float(a.sum()) / (a.shape[0] * a.shape[1] * a.shape[2])
        return {"sites": len(result), "shape": list(a.shape), "row_mass": round(mass, 5)}
    cap = result
    a = cap.get(0)
    info = cap.info[cap.layers[0]]
    bq, bk = info.get("block", [1, 1])
    # mean pooling keeps mass: sum * bq * bk = number of query rows per kept head
    mass = float(np.asarray(a, dtype=np.float64).sum()) * bq * bk / (a.shape[0] * a.shape[1] * tokens)
    return {
        "sites": len(cap.layers),
        "shape": list(a.shape),
        "row_mass": round(mass, 5),
        "block": [bq, bk],
        "nbytes": int(cap.nbytes),
    }


# --------------------------------------------------------------------------- driver
def configurations(quick: bool) -> list[dict]:
    """Each row: what to run; pairs share a 'group' and are compared with each other."""
    if quick:
        short, long_pair, longest, very_long, reps = [64, 128], 1024, 2048, 4096, 2
    else:
        short, long_pair, longest, very_long, reps = [128, 512], 4096, 8192, 16384, 5
    rows = []
    for n in short:
        group = f"full {n}"
        rows += [
            dict(
                group=group,
                label="reference (eager, output_attentions)",
                mode="reference",
                tokens=n,
                repeats=reps,
                warmup=True,
            ),
            dict(
                group=group,
                label='aw.capture heads="all"',
                mode="capture",
                heads="all",
                tokens=n,
                repeats=reps,
                warmup=True,
                sdpa_target=FULL_TARGET,
            ),
            dict(
                group=group,
                label="plain sdpa, no capture (context)",
                mode="sdpa",
                tokens=n,
                repeats=reps,
                warmup=True,
            ),
        ]
    pooled = dict(
        label='aw.capture heads="mean", max_size=512', mode="capture", heads="mean", max_size=512, repeats=1
    )
    plain = dict(label="plain sdpa, no capture (context)", mode="sdpa", repeats=1)
    rows += [
        dict(group=f"pooled {long_pair}", label="reference (eager, output_attentions)", mode="reference",
             tokens=long_pair, repeats=1),
        dict(pooled, group=f"pooled {long_pair}", tokens=long_pair, sdpa_target=POOLED_TARGET),
        dict(plain, group=f"pooled {long_pair}", tokens=long_pair),
        dict(pooled, group=f"pooled {longest}", tokens=longest, sdpa_target=POOLED_TARGET,
             rss_target=LONG_RSS_TARGET_GIB),
        dict(plain, group=f"pooled {longest}", tokens=longest),
        dict(pooled, group=f"pooled {very_long}", tokens=very_long, rss_target=LONG_RSS_TARGET_GIB),
    ]  # fmt: skip
    return rows


def run_child(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    why = "killed (out of memory?)" if p.returncode in (-9, 137) else f"exit code {p.returncode}"
    return {"error": f"{why}: {' | '.join(tail)}"}


def fmt_gib(b):
    return f"{b / GIB:6.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--json", help="also write all measurements to this file")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per configuration")
    ap.add_argument(
        "--threads",
        type=int,
        help="torch threads per configuration (default: torch's "
        "own choice); 1 makes CPU times meaningful on a machine shared with other work",
    )
    ap.add_argument(
        "--only", help="run only the groups whose name starts with this ('full', 'pooled', 'pooled 8192')"
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        res = worker(json.loads(args.worker))
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    import psutil
    import torch
    import transformers

    rows = configurations(args.quick)
    print(
        f"attnwidget capture benchmark{' (quick)' if args.quick else ''}: BERT-base shape, random "
        f"weights, batch 1, CPU"
    )
    print(f"cpu: {cpu_model()}")
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / GIB:.1f} GiB RAM, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        "each configuration in a fresh process; time = wall seconds (perf_counter) of the forward "
        "under torch.inference_mode: best of the repeats after one warm-up (short inputs, "
        f"{ROUNDS} alternating rounds) or best of {ROUNDS} alternating single runs (long inputs; "
        "the reference and 16,384 tokens run once); cpu = process CPU seconds of that "
        "run (all threads); peak = ru_maxrss of that process; model = RSS after building the "
        "model; verdicts use wall time and peak\n"
    )
    t_start = time.perf_counter()
    # short inputs: the configurations of a group take turns, ROUNDS times, and the best round
    # counts, so that a burst of load from other processes does not land on one side only
    # long inputs: the capture and plain sdpa take turns too (the reference, which needs the most
    # memory and time, runs once)
    if args.only:
        rows = [row for row in rows if row["group"].startswith(args.only)]
        if not rows:
            ap.error(f"--only {args.only!r} matches no group (groups start with 'full' or 'pooled')")
    order = []
    for group in dict.fromkeys(row["group"] for row in rows):
        members = [row for row in rows if row["group"] == group]
        rounds = 1 if args.quick else ROUNDS
        if members[0].get("warmup"):
            order += members * rounds
        else:
            paired = len(members) > 1 and any(m["mode"] == "sdpa" for m in members)
            order += [m for m in members if m["mode"] == "reference"]
            order += [m for m in members if m["mode"] != "reference"] * (rounds if paired else 1)
    for row in order:
        spec = {
            k: v
            for k, v in row.items()
            if k not in ("group", "label", "target", "sdpa_target", "rss_target", "result", "rounds")
        }
        spec["threads"] = args.threads
        print(
            f"  running {row['group']:<12} {row['label']:<40} load {os.getloadavg()[0]:4.1f} ...",
            end="",
            flush=True,
        )
        r = run_child(spec, args.timeout)
        row.setdefault("rounds", []).append(r)
        print(
            f" {r['time']:.3f} s wall, {r['cpu']:.3f} s cpu" if "time" in r else f" FAILED: {r['error']}",
            flush=True,
        )
    for row in rows:
        done = [r for r in row["rounds"] if "time" in r]
        if not done:
            row["result"] = row["rounds"][0]
            continue
        best = dict(min(done, key=lambda r: r["time"]))
        best["peak_rss"] = min(r["peak_rss"] for r in done)
        best["rss_model"] = min(r["rss_model"] for r in done)
        best["times"] = [t for r in done for t in r["times"]]
        row["result"] = best

    header = (
        f"{'group':<12} {'configuration':<40} {'time s':>9} {'cpu s':>8} {'peak GiB':>9} "
        f"{'model GiB':>9} {'peak-model':>10} {'time x':>7} {'cpu x':>6} {'peak x':>7} "
        f"{'x sdpa':>7}  target"
    )
    print("\n" + header)
    print("-" * len(header))
    verdicts = []
    refs = {
        row["group"]: row["result"] for row in rows if row["mode"] == "reference" and "time" in row["result"]
    }
    sdpas = {row["group"]: row["result"] for row in rows if row["mode"] == "sdpa" and "time" in row["result"]}
    for row in rows:
        r = row["result"]
        if "time" not in r:
            print(f"{row['group']:<12} {row['label']:<40} FAILED: {r['error']}")
            if "target" in row or "rss_target" in row:
                verdicts.append((row, False, "did not finish"))
            continue
        ref = refs.get(row["group"])
        plain = sdpas.get(row["group"])
        tx = px = cx = sx = None
        if ref is not None:
            tx, px = r["time"] / ref["time"], r["peak_rss"] / ref["peak_rss"]
            cx = r["cpu"] / ref["cpu"]
        if plain is not None and row["mode"] == "capture":
            sx = r["time"] / plain["time"]
        target = ""
        if "sdpa_target" in row:
            if sx is None:
                target = "no plain sdpa measured"
                verdicts.append((row, False, target))
            else:
                ok = sx <= row["sdpa_target"]
                target = f"time <= {row['sdpa_target']}x plain sdpa: {'MET' if ok else 'NOT MET'}"
                verdicts.append((row, ok, target))
        if "rss_target" in row:
            ok = r["peak_rss"] / GIB < row["rss_target"]
            rss = f"finishes, peak < {row['rss_target']} GiB: {'MET' if ok else 'NOT MET'}"
            target = f"{target}; {rss}" if target else rss
            verdicts.append((row, ok, rss))
        print(
            f"{row['group']:<12} {row['label']:<40} {r['time']:9.3f} {r['cpu']:8.2f} "
            f"{fmt_gib(r['peak_rss']):>9} {fmt_gib(r['rss_model']):>9} "
            f"{fmt_gib(r['peak_rss'] - r['rss_model']):>10} {'' if tx is None else f'{tx:.3f}':>7} "
            f"{'' if cx is None else f'{cx:.3f}':>6} {'' if px is None else f'{px:.3f}':>7} "
            f"{'' if sx is None else f'{sx:.3f}':>7}  {target}"
        )
    print("\nwhat each produced (row_mass ~ 1 means every attention row sums to one after pooling):")
    for row in rows:
        r = row["result"]
        if r.get("check"):
            print(f"  {row['group']:<12} {row['label']:<40} {json.dumps(r['check'])}")
    print("\nrepeat times (s):")
    for row in rows:
        if "times" in row["result"] and len(row["result"]["times"]) > 1:
            print(
                f"  {row['group']:<12} {row['label']:<40} "
                f"{', '.join(f'{t:.3f}' for t in row['result']['times'])}"
            )
    met = sum(ok for _, ok, _ in verdicts)
    print(f"\nload average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"targets met: {met} of {len(verdicts)}   (total {time.perf_counter() - t_start:.0f} s; "
        f"torch threads per process: {next((row['result'].get('threads') for row in rows if 'threads' in row['result']), '?')})"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if met == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
