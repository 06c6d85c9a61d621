#!/usr/bin/env python3
"""Generate the MoMo and MoMo-Adam conformance fixtures, ``tests/fixtures/momo.json``.

What it does
------------
For every case below it builds 1 to 33 float64 tensors of awkward sizes (1 to 70 elements)
and runs the official optimizer (``momo.Momo`` or ``momo.MomoAdam`` of ``momo-opt`` 0.1.0)
for 5 to 200 steps. The problem is a seeded quadratic: at step k (from 1)

    loss_k = 0.5 * sum(a * (x - b)**2) / n + offset_k
    grad_k = scale_k * a * (x - b) / n          (elementwise, left to right)

with ``n`` the number of elements, ``a`` in [0.1, 2), ``b`` and the initial ``x`` in
[-1, 1), ``offset_k`` in [0, 0.5) and ``scale_k`` in [0.5, 1.5) (a gradient that is not the
loss's own, as a mini-batch's is not). Every number comes from SplitMix64 streams (seed, and
seed + 1 for the per-step numbers) drawn in a fixed order, so the Rust replay
(``tests/momo_conformance.rs``) regenerates the problem instead of reading it. The fixture
records each case's settings (all of them) and, at a few checkpoint steps, every parameter and the lower
bound ``lb`` (its online estimate with ``use_fstar``).

Every setting, defaults included, is rounded to float32 (the crate's settings are f32) and
passed explicitly, so that both sides run the same numbers in float64. Torch's default dtype is set to float64: the official code
makes some of its scalars with ``torch.tensor(0.)`` and ``torch.zeros(1)`` (MoMo-Adam's
average of <x, g>; MoMo's with bias correction), which are float32 otherwise, and MoMo with
bias correction then computes its step size in float32 (a one-element float32 tensor wins
torch's type promotion over float64 scalars). That is an accident of torch's defaults, not
of the method; the fixtures pin the method in float64.

Requirements
------------
Python 3.10+, torch (any build; it runs on the CPU) and exactly ``momo-opt==0.1.0``:

    python3 -m venv ~/venv-fixtures
    ~/venv-fixtures/bin/pip install torch momo-opt==0.1.0
    ~/venv-fixtures/bin/python scripts/gen_momo_fixtures.py      # from the repo root

CI does not run this script (it needs torch); the Rust tests only read its output.
"""

import json
import struct
from importlib.metadata import version

import torch
from momo import Momo, MomoAdam

OUT = "tests/fixtures/momo.json"
MASK = (1 << 64) - 1


class SplitMix64:
    """The generator of ``examples/common/split_mix.rs``, bit for bit."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self, lo, hi):
        unit = (self.next_u64() >> 11) / float(1 << 53)
        return lo + (hi - lo) * unit

    def int(self, lo, hi):
        return lo + self.next_u64() % (hi - lo + 1)


def f32(value):
    """``value`` rounded to float32, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


# name, method, settings (momo-opt's names), tensors, steps, seed
CASES = [
    ("momo_defaults", "momo", {}, 3, 20, 11),
    ("momo_bias_correction", "momo", {"bias_correction": True}, 5, 30, 12),
    ("momo_weight_decay", "momo", {"lr": 0.5, "weight_decay": 0.01}, 7, 25, 13),
    ("momo_lr_caps", "momo", {"lr": 0.05, "beta": 0.5}, 2, 5, 14),
    ("momo_fstar", "momo", {"use_fstar": True}, 33, 200, 15),
    (
        "momo_everything",
        "momo",
        {"lr": 2.0, "beta": 0.8, "lb": -0.25, "weight_decay": 0.1,
         "bias_correction": True, "use_fstar": True},
        1, 50, 16,
    ),
    ("momo_adam_defaults", "momo_adam", {}, 3, 20, 21),
    ("momo_adam_weight_decay_divide", "momo_adam", {"weight_decay": 0.1}, 5, 30, 22),
    ("momo_adam_weight_decay_adamw", "momo_adam", {"weight_decay": 0.1, "divide": False}, 4, 30, 23),
    ("momo_adam_fstar", "momo_adam", {"lr": 0.1, "use_fstar": True}, 33, 200, 24),
    (
        "momo_adam_betas_eps",
        "momo_adam",
        {"lr": 1.0, "betas": (0.5, 0.9), "eps": 1e-3, "lb": 0.125},
        1, 5, 25,
    ),
]


# momo-opt 0.1.0's defaults, passed explicitly so that they are rounded to float32 too.
DEFAULTS = {
    "momo": {"lr": 1.0, "weight_decay": 0.0, "beta": 0.9, "lb": 0.0,
             "bias_correction": False, "use_fstar": False},
    "momo_adam": {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                  "lb": 0.0, "divide": True, "use_fstar": False},
}


def settings_f32(settings):
    out = {}
    for key, value in settings.items():
        if isinstance(value, bool):
            out[key] = value
        elif isinstance(value, tuple):
            out[key] = tuple(f32(v) for v in value)
        else:
            out[key] = f32(value)
    return out


def problem(tensors, steps, seed):
    rng = SplitMix64(seed)
    sizes = [rng.int(1, 70) for _ in range(tensors)]
    a = [[rng.uniform(0.1, 2.0) for _ in range(n)] for n in sizes]
    b = [[rng.uniform(-1.0, 1.0) for _ in range(n)] for n in sizes]
    x0 = [[rng.uniform(-1.0, 1.0) for _ in range(n)] for n in sizes]
    per_step = SplitMix64(seed + 1)
    offsets, scales = [], []
    for _ in range(steps):
        offsets.append(per_step.uniform(0.0, 0.5))
        scales.append(per_step.uniform(0.5, 1.5))
    return sizes, a, b, x0, offsets, scales


def run(method, settings, tensors, steps, seed):
    sizes, a, b, x0, offsets, scales = problem(tensors, steps, seed)
    dt = torch.float64
    params = [torch.nn.Parameter(torch.tensor(x, dtype=dt)) for x in x0]
    a = [torch.tensor(v, dtype=dt) for v in a]
    b = [torch.tensor(v, dtype=dt) for v in b]
    n = float(sum(sizes))
    opt = (Momo if method == "momo" else MomoAdam)(params, **settings)
    checkpoints = sorted({1, 2, 3, steps // 2, steps} - {0})
    expected = []
    for k in range(steps):
        with torch.no_grad():
            total = sum(torch.sum(ai * (p - bi) ** 2) for p, ai, bi in zip(params, a, b))
            loss = 0.5 * total / n + offsets[k]
            for p, ai, bi in zip(params, a, b):
                p.grad = scales[k] * ai * (p - bi) / n
        opt.step(loss=loss.detach())
        if k + 1 in checkpoints:
            expected.append({
                "step": k + 1,
                "params": [p.detach().tolist() for p in params],
                "lb": float(opt.lb),
            })
    return sizes, expected


def main():
    torch.set_default_dtype(torch.float64)
    cases = []
    for name, method, settings, tensors, steps, seed in CASES:
        settings = settings_f32({**DEFAULTS[method], **settings})
        sizes, expected = run(method, settings, tensors, steps, seed)
        cases.append({
            "name": name,
            "method": method,
            "settings": settings,
            "seed": seed,
            "tensors": tensors,
            "steps": steps,
            "sizes": sizes,
            "expected": expected,
        })
        print(f"{name}: {tensors} tensors ({sum(sizes)} elements), {steps} steps")
    fixture = {
        "generator": "scripts/gen_momo_fixtures.py",
        "versions": {"momo-opt": version("momo-opt"), "torch": torch.__version__},
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
