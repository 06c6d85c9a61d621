#!/usr/bin/env python3
"""Replay the ALI-G fixtures with an independent float64 numpy implementation.

Reads every ``tests/fixtures/alig_*.json`` written by ``scripts/gen_alig_fixtures.py``
and applies the crate's update rules (below) to the recorded losses and
gradients, starting from the recorded initial parameters and carrying its own
float64 state (parameters and momentum buffers) through all steps, never resetting
to the recorded values:

    gamma_hat = max(0, loss) / (||g||^2 + eps)     ||g||^2 over the tensors of all groups
    gamma     = min(gamma_hat, max_lr)             per group; gamma_hat where max_lr is null
    momentum 0:    w <- w - gamma*g
    default:       z <- mu*z - gamma*g ;  w <- w - gamma*g + mu*z
    adjusted:      z <- mu*z - g       ;  w <- w - gamma*g + gamma*mu*z
    projection:    after the whole update, once per step, over the trained tensors:
                   if ||w|| > max_norm then w <- w * max_norm/||w||

Tensors in no group are frozen and must never change.  Every ``params_after`` value
must agree with the replay within TOLERANCE, relative to max(|value|, 1).  Every recorded
array must have exactly its tensor's length, and every recorded and replayed value must be
finite: a NaN would compare false against the tolerance and pass unseen.

Needs only Python 3 and numpy; run from the repo root:

    python3 scripts/check_alig_fixtures.py [FILES...]

It prints the largest relative error per case and exits non-zero on any failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

TOLERANCE = 1e-5
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


class BadFixture(ValueError):
    """A fixture that fails before the tolerance: a wrong shape, a non-finite value, a changed frozen tensor."""


def finite_array(values, length: int, what: str) -> np.ndarray:
    """``values`` as float64, refused unless exactly ``length`` long and all finite."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (length,):
        raise BadFixture(f"{what}: shape {array.shape}, expected ({length},)")
    if not np.isfinite(array).all():
        raise BadFixture(f"{what}: non-finite value at index {int(np.argmin(np.isfinite(array)))}")
    return array


def replay(doc: dict) -> tuple[float, int, int]:
    """Return (max relative error, index of the worst step, number of steps)."""
    cfg = doc["config"]
    eps = float(cfg["eps"])
    adjusted = bool(cfg["adjusted_momentum"])
    max_norm = cfg["max_norm"]
    sizes = {t["name"]: int(t["len"]) for t in doc["tensors"]}
    groups = doc["groups"]
    trained = [n for g in groups for n in g["tensors"]]
    if len(set(trained)) != len(trained):
        raise BadFixture("a tensor is in two groups")
    frozen = [n for n in sizes if n not in trained]

    if not doc["steps"]:
        raise BadFixture("no steps")
    if set(doc["initial_params"]) != set(sizes):
        raise BadFixture(f"initial_params for {sorted(doc['initial_params'])}, tensors {sorted(sizes)}")
    initial = {n: finite_array(doc["initial_params"][n], sizes[n], f"initial_params[{n}]") for n in sizes}
    w = {n: initial[n].copy() for n in sizes}
    z = {n: np.zeros(sizes[n]) for n in trained}

    worst, worst_step = 0.0, -1
    for i, step in enumerate(doc["steps"]):
        loss = float(step["loss"])
        if not np.isfinite(loss):
            raise BadFixture(f"step {i}: loss {loss}")
        if set(step["params_after"]) != set(sizes):
            raise BadFixture(f"step {i}: params_after for {sorted(step['params_after'])}, tensors {sorted(sizes)}")
        g = {n: finite_array(step["grads"][n], sizes[n], f"step {i}: grads[{n}]") for n in trained}
        sq_norm = sum(float(np.dot(g[n], g[n])) for n in trained)
        gamma_hat = max(0.0, loss) / (sq_norm + eps)
        for grp in groups:
            max_lr = grp["max_lr"]
            mu = float(grp["momentum"])
            gamma = gamma_hat if max_lr is None else min(gamma_hat, float(max_lr))
            for n in grp["tensors"]:
                if mu == 0.0:
                    w[n] = w[n] - gamma * g[n]
                elif adjusted:
                    z[n] = mu * z[n] - g[n]
                    w[n] = w[n] - gamma * g[n] + gamma * mu * z[n]
                else:
                    z[n] = mu * z[n] - gamma * g[n]
                    w[n] = w[n] - gamma * g[n] + mu * z[n]
        if max_norm is not None:
            norm = np.sqrt(sum(float(np.dot(w[n], w[n])) for n in trained))
            if norm > max_norm:
                for n in trained:
                    w[n] = w[n] * (max_norm / norm)

        for n in sizes:
            got = finite_array(step["params_after"][n], sizes[n], f"step {i}: params_after[{n}]")
            finite_array(w[n], sizes[n], f"step {i}: replayed {n}")
            if n in frozen and not np.array_equal(got, initial[n]):
                raise BadFixture(f"step {i}: frozen tensor {n} changed")
            rel = np.abs(got - w[n]) / np.maximum(np.abs(got), 1.0)
            if rel.size and rel.max() > worst:
                worst, worst_step = float(rel.max()), i
    return worst, worst_step, len(doc["steps"])


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted(FIXTURES.glob("alig_*.json"))
    if not files:
        print(f"no fixtures found in {FIXTURES}")
        return 1
    failed = 0
    for path in files:
        doc = json.loads(path.read_text())
        try:
            worst, worst_step, steps = replay(doc)
        except BadFixture as e:
            failed += 1
            print(f"FAIL {doc['case']:24s} {e}")
            continue
        ok = worst <= TOLERANCE
        failed += not ok
        print(
            f"{'ok  ' if ok else 'FAIL'} {doc['case']:24s} {steps} steps, "
            f"max relative error {worst:.3e} (step {worst_step}), {path.stat().st_size / 1024:.1f} KiB"
        )
    print(f"{len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
