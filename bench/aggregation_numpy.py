#!/usr/bin/env python3
"""NumPy peer of bench/aggregation.ts: weighted FedAvg exactly as Flower's `aggregate()` does it
(flwr/server/strategy/aggregate.py):

    weighted = [[layer * num_examples for layer in weights] for weights, num_examples in results]
    new = [reduce(np.add, layer_updates) / num_examples_total for layer_updates in zip(*weighted)]

It generates the same sizes itself (float32 updates, the given example counts) and times only the
aggregation. The model is laid out two ways, one tensor and ten equal tensors, because NumPy's
speed depends on the temporaries' size (malloc reuses freed blocks below 32 MiB); the benchmark
reports the faster layout, so the comparison never picks NumPy's bad case.

Standalone: prints one JSON object (MiB/s of update data, median of --reps, per layout).
--serve: prints a greeting line, then answers each stdin line naming a layout with one JSON line
holding that run's seconds, so the caller can alternate its runs with these on a noisy machine.
"""
import argparse
import json
import sys
import time
from functools import reduce


def aggregate(np, results):
    """Flower's aggregate(), verbatim apart from names."""
    num_examples_total = sum(num_examples for (_, num_examples) in results)
    weighted_weights = [[layer * num_examples for layer in weights] for weights, num_examples in results]
    return [reduce(np.add, layer_updates) / num_examples_total for layer_updates in zip(*weighted_weights)]


def timed(np, results):
    t = time.perf_counter()
    new = aggregate(np, results)
    seconds = time.perf_counter() - t
    assert new[0].dtype == np.float32
    return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", type=int, required=True)
    ap.add_argument("--weights", required=True, help="comma-separated example counts, one per update")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    try:
        import numpy as np
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer here"
        print(json.dumps({"error": f"import numpy failed: {e}"}), flush=True)
        return 0

    counts = [int(c) for c in args.weights.split(",")]
    update_mib = len(counts) * args.params * 4 / 2**20
    tenth = args.params // 10
    layouts = {"1 tensor": [args.params], "10 tensors": [tenth] * 9 + [args.params - 9 * tenth]}
    rng = np.random.default_rng(7)
    data = {name: [([rng.standard_normal(s, dtype=np.float32) * 0.01 for s in sizes], n) for n in counts]
            for name, sizes in layouts.items()}
    for results in data.values():
        timed(np, results)  # warm-up: the allocator's first touch is not part of the measurement
    hello = {"numpy": np.__version__, "python": sys.version.split()[0], "update_mib": update_mib, "layouts": list(layouts)}

    if args.serve:
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            name = line.strip()
            if not name:
                continue
            if name not in data:
                print(json.dumps({"error": f"unknown layout {name}"}), flush=True)
                continue
            print(json.dumps({"layout": name, "seconds": timed(np, data[name])}), flush=True)
        return 0

    out = dict(hello, layouts={})
    for name, results in data.items():
        runs = sorted(timed(np, results) for _ in range(args.reps))
        seconds = runs[len(runs) // 2]
        out["layouts"][name] = {"mib_s": update_mib / seconds, "runs_s": runs}
        print(f"[numpy] {name}: {update_mib / seconds:.0f} MiB/s", file=sys.stderr)
    best = max(out["layouts"].items(), key=lambda kv: kv[1]["mib_s"])
    out["layout"], out["mib_s"] = best[0], best[1]["mib_s"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
