#!/usr/bin/env python3
"""PyTorch CPU twin of Medley's zoo `cnn-small` training step, the peer for bench/training.ts.

Same layers as shared/model/zoo.ts: three conv3x3(no bias)-BN-ReLU stages (16/32/64), 2x2 max-pooling
after the first two, global average pooling, dense softmax; Adam, cross-entropy, batch 32, 64x64x1.
Prints images/s over the timed batches (warm-up excluded). Runs with torch's default thread count.
"""
import argparse
import json
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


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, default=30, help="timed batches")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer here"
        out = {"error": f"import torch failed: {e}"}
        print(json.dumps(out) if args.json else out["error"])
        return 2

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
    times = []
    for _ in range(args.batches):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    total = sum(times)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "images_per_s": args.batch_size * args.batches / total,
        "ms_per_batch_median": sorted(times)[len(times) // 2] * 1000,
        "batches": args.batches,
        "batch_size": args.batch_size,
        "parameters": params,
        "parameters_with_bn_stats": params + buffers,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"PyTorch {out['torch']} CPU ({out['threads']} threads): {out['images_per_s']:.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
