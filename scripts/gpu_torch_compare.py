#!/usr/bin/env python3
"""The PyTorch side of the GPU comparison: pytorch-optimizer's ``AliG`` step and a plain
``torch`` copy of the same bytes, on the sizes and tensor counts of ``cargo bench --bench step``.

For every N (trainable f32 parameters in total), tensor count (N split as evenly as possible,
as the benchmark splits it) and momentum setting (off, or 0.9 with AliG's default Nesterov
form), it times ``AliG.step(closure)`` with ``max_lr=0.1`` and a closure returning the loss
1.0, the benchmark's settings, twice: with ``foreach=True`` (pytorch-optimizer's batched
``torch._foreach_*`` path) and ``foreach=False`` (its per-tensor loop). A step includes what
AliG always does: the global gradient norm and its ``.item()``, a device-to-host round trip.
The copy anchor is ``dst.copy_(src)`` of half the step's minimum traffic, so that bytes read
plus bytes written equal the step's (as the benchmark's copy row does).

Times are medians over repetitions after warm-up: CUDA events around each step where CUDA
is there, the host's clock otherwise (after a synchronize). Effective GB/s counts the step's
minimum traffic, 4 B * N * (1 + 2) without momentum and 4 B * N * (1 + 2 + 2) with, as the
benchmark does.

    python3 scripts/gpu_torch_compare.py --sizes 1e8,1e9 --out torch.csv
    python3 scripts/gpu_torch_compare.py --sizes 1e5,1e6 --device cpu --out torch.csv

Needs torch and pytorch-optimizer (4.1.0 was read for the above; its AliG is pure Python).
"""

import argparse
import csv
import importlib.metadata
import statistics
import sys
import time

import torch

try:
    from pytorch_optimizer import AliG
except ImportError as error:  # pragma: no cover - reported, not hidden
    sys.exit(f"pytorch-optimizer is not importable ({error}); install it or put its wheel on PYTHONPATH")

MAX_LR = 0.1
MOMENTUM = 0.9
LOSS = 1.0
COLUMNS = [
    "n", "tensors", "momentum", "kernel", "device", "time_us", "min_traffic_bytes", "gbps",
    "reps", "clock", "foreach_used", "torch", "pytorch_optimizer",
]


def parse_count(text):
    value = float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a parameter count: {text!r}")
    return int(round(value))


def tensor_sizes(n, tensors):
    """N split as the benchmark splits it: equal lengths, the first n % tensors one longer."""
    base, extra = divmod(n, tensors)
    return [base + (1 if i < extra else 0) for i in range(tensors)]


def min_traffic_bytes(n, momentum):
    return 4 * n * (5 if momentum else 3)


class Clock:
    """Times one callable: CUDA events on a CUDA device, the host's clock otherwise."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"
        self.name = "cuda_events" if self.cuda else "wall"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def once(self, work):
        if self.cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            work()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) * 1e-3
        begin = time.perf_counter()
        work()
        return time.perf_counter() - begin

    def median(self, work, warmup, min_reps, max_reps, budget_s):
        for _ in range(warmup):
            work()
        self.sync()
        times = []
        started = time.perf_counter()
        while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - started < budget_s):
            times.append(self.once(work))
        return statistics.median(times), len(times)


def uniform_(tensor, scale, generator):
    """Uniform in [-scale, scale): non-zero data, so the step does real arithmetic."""
    tensor.uniform_(-scale, scale, generator=generator)
    return tensor


def time_alig(n, tensors, momentum, foreach, device, clock, args):
    generator = torch.Generator(device=device).manual_seed(0x5EED + tensors)
    params = []
    for size in tensor_sizes(n, tensors):
        p = uniform_(torch.empty(size, device=device, dtype=torch.float32), 1.0, generator)
        p.requires_grad_(True)
        p.grad = uniform_(torch.empty_like(p), 1e-3, generator)
        params.append(p)
    optimizer = AliG(params, max_lr=MAX_LR, momentum=MOMENTUM if momentum else 0.0, foreach=foreach)
    group = optimizer.param_groups[0]
    foreach_used = AliG.can_use_foreach(group, group.get("foreach"))
    before = params[0].detach()[:4].clone()
    seconds, reps = clock.median(lambda: optimizer.step(lambda: LOSS), args.warmup, args.min_reps,
                                 args.max_reps, args.budget)
    if torch.equal(before, params[0].detach()[:4]):
        print(f"WARNING: AliG left the parameters unchanged (N={n}, tensors={tensors})", file=sys.stderr)
    del optimizer, params
    return seconds, reps, foreach_used


def time_copy(n, momentum, device, clock, args):
    floats = min_traffic_bytes(n, momentum) // 8
    source = torch.empty(floats, device=device, dtype=torch.float32).uniform_(-1.0, 1.0)
    destination = torch.empty_like(source)
    seconds, reps = clock.median(lambda: destination.copy_(source), args.warmup, args.min_reps,
                                 args.max_reps, args.budget)
    del source, destination
    return seconds, reps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e8,1e9",
                        type=lambda s: [parse_count(x) for x in s.split(",") if x.strip()])
    parser.add_argument("--tensors", default="1,100,1000",
                        type=lambda s: [int(x) for x in s.split(",") if x.strip()])
    parser.add_argument("--momentum", default="off,on",
                        type=lambda s: [x.strip() == "on" for x in s.split(",") if x.strip()])
    parser.add_argument("--device", default="auto", help="auto (cuda when there), cuda or cpu")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--min-reps", type=int, default=5)
    parser.add_argument("--max-reps", type=int, default=31)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed steps per row at most "
                        "(past --min-reps)")
    args = parser.parse_args()

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    clock = Clock(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    versions = [torch.__version__, importlib.metadata.version("pytorch-optimizer")]
    print(f"torch {versions[0]}, pytorch-optimizer {versions[1]}, device {device} ({name}), clock {clock.name}",
          flush=True)

    with open(args.out, "w", newline="") as file:
        out = csv.writer(file)
        out.writerow(COLUMNS)

        def emit(n, tensors, momentum, kernel, seconds, reps, foreach_used):
            traffic = min_traffic_bytes(n, momentum)
            row = [n, tensors, "on" if momentum else "off", kernel, str(device), f"{seconds * 1e6:.3f}",
                   traffic, f"{traffic / seconds / 1e9:.2f}", reps, clock.name, foreach_used, *versions]
            out.writerow(row)
            file.flush()
            print(f"{n:>11} {tensors:>6} {row[2]:>3} {kernel:<13} {seconds * 1e6:>11.1f} us "
                  f"{traffic / seconds / 1e9:>9.2f} GB/s  ({reps} reps)", flush=True)

        for n in args.sizes:
            for momentum in args.momentum:
                try:
                    seconds, reps = time_copy(n, momentum, device, clock, args)
                    emit(n, "", momentum, "copy", seconds, reps, "")
                except torch.cuda.OutOfMemoryError as error:
                    print(f"N={n}: copy does not fit ({error})", flush=True)
                for tensors in args.tensors:
                    for kernel, foreach in (("alig_foreach", True), ("alig_loop", False)):
                        try:
                            seconds, reps, used = time_alig(n, tensors, momentum, foreach, device, clock, args)
                            emit(n, tensors, momentum, kernel, seconds, reps, used)
                        except torch.cuda.OutOfMemoryError as error:
                            print(f"N={n} x{tensors}: {kernel} does not fit ({error})", flush=True)
                        if device.type == "cuda":
                            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
