#!/usr/bin/env python3
"""PyTorch CPU twin of Medley's zoo `cnn-small` training step, the peer for bench/training.ts.

Same layers as shared/model/zoo.ts: three conv3x3(no bias)-BN-ReLU stages (16/32/64), 2x2 max-pooling
after the first two, global average pooling, dense softmax; Adam, cross-entropy, batch 32, 64x64x1.
Prints images/s over the timed batches (warm-up excluded). Uses one intra-op thread per available core
unless --threads says otherwise (Debian's torch otherwise defaults to a single thread on some machines).
With --serve it instead answers `run N THREADS` lines on stdin, one JSON line each, so bench/training.ts
can interleave its runs with ours.
"""
import argparse
import json
import os
import sys
import time


def build(torch, classes):
    nn = torch.nn

    def stage(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1), nn.ReLU()]

    return nn.Sequential(
        *stage(1, 16), nn.MaxPool2d(2),
        *stage(16, 32), nn.MaxPool2d(2),
        *stage(32, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes),
    )


def timed(step, batches):
    times = []
    for _ in range(batches):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def serve(torch, step, args, info):
    """One JSON line per stdin command `run N THREADS`, so the caller can alternate its own timed
    runs with ours and machine load hits both alike."""
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] != "run" or len(parts) != 3:
            print(json.dumps({"error": f"unknown command {line.strip()!r}; use: run BATCHES THREADS"}), flush=True)
            continue
        torch.set_num_threads(int(parts[2]))
        step()  # a thread-count change re-creates the pool; keep that out of the timing
        times = timed(step, int(parts[1]))
        print(json.dumps({
            "threads": torch.get_num_threads(),
            "batches": len(times),
            "seconds": sum(times),
            "images_per_s": args.batch_size * len(times) / sum(times),
        }), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, default=30, help="timed batches")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0,
                    help="intra-op threads; 0 = one per available core (Medley trains on every core too)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--serve", action="store_true", help="answer `run N THREADS` lines on stdin (see serve())")
    args = ap.parse_args()

    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer here"
        out = {"error": f"import torch failed: {e}"}
        print(json.dumps(out) if args.json or args.serve else out["error"], flush=True)
        return 2

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(args.threads or cores)
    torch.manual_seed(0)
    model = build(torch, args.classes)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(args.batch_size, 1, args.size, args.size)
    y = torch.arange(args.batch_size) % args.classes

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    info = {
        "torch": torch.__version__,
        "cores": cores,
        "batch_size": args.batch_size,
        "parameters": params,
        "parameters_with_bn_stats": params + buffers,
    }
    if args.serve:
        return serve(torch, step, args, info)

    times = timed(step, args.batches)
    out = {
        **info,
        "threads": torch.get_num_threads(),
        "images_per_s": args.batch_size * args.batches / sum(times),
        "ms_per_batch_median": sorted(times)[len(times) // 2] * 1000,
        "batches": args.batches,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"PyTorch {out['torch']} CPU ({out['threads']} threads): {out['images_per_s']:.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
