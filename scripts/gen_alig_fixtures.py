#!/usr/bin/env python3
"""Generate the ALI-G conformance fixtures in ``tests/fixtures/alig_<case>.json``.

What it does
------------
For every case below it builds a few float32 tensors of awkward sizes, a fixed
least-squares problem that uses all of them, and runs the real ``AliG`` optimizer of
the ``pytorch-optimizer`` package for ``STEPS`` steps through ``AliG.step(closure)``.
The closure computes the loss with torch autograd (so the gradients are real) and
returns it as a Python float.  For every step the fixture records the loss the
closure returned, the gradient of every trained tensor as the optimizer saw it, and
the parameters of every tensor (frozen ones included) after the step.  The initial
parameters are recorded too.  ``tests/fixtures/README.md`` describes the JSON schema
and the semantics of ``AliG`` that these fixtures pin down.

All numbers are float32 values written as their shortest decimal representation, so
that parsing them as f64 and rounding to f32 (what serde_json does for an ``f32``
field) gives back the exact value torch used.  The script checks that round trip.

Everything is seeded (the data and initial values come from numpy's PCG64), so a
rerun with the same versions writes the same files.  Other torch versions may differ
in the last bits of the gradients, which is harmless: the fixtures are self-contained
(the recorded gradients are the input of the replay, not recomputed).

Requirements
------------
Python 3.10+, numpy, torch (any build; it runs on the CPU) and exactly
``pytorch-optimizer==4.1.0``.  The fixtures in the repository were written with
torch 2.15.0, pytorch-optimizer 4.1.0 and numpy 2.4.6.

    python3 -m venv ~/venv-fixtures
    ~/venv-fixtures/bin/pip install torch pytorch-optimizer==4.1.0 numpy
    ~/venv-fixtures/bin/python scripts/gen_alig_fixtures.py      # from the repo root
    ~/venv-fixtures/bin/python scripts/check_alig_fixtures.py  # numpy-only replay

CI does not run this script (it needs torch); the Rust tests only read its output.
Run ``scripts/check_alig_fixtures.py`` afterwards: it replays the fixtures with an
independent float64 numpy implementation of the update rules.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from pytorch_optimizer import AliG
from pytorch_optimizer.optimizer.alig import l2_projection

REQUIRED_PYTORCH_OPTIMIZER = "4.1.0"
STEPS = 50
EPS = 1e-6  # hard-coded in AliG.compute_step_size; recorded for the replay
REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "tests" / "fixtures"

# ---------------------------------------------------------------------------
# Cases.  "groups" lists the optimizer's param groups (max_lr and momentum
# default to the case's values).  A tensor in no group is frozen.  Names in
# "frozen_in_torch_group" are put into that torch param group with
# requires_grad=False, so that AliG meets a parameter whose grad is None; names in
# "grad_but_no_group" get a gradient but are in no param group.  The JSON lists
# only the trained tensors in its groups (its schema: a tensor in no group is
# frozen).
# ---------------------------------------------------------------------------
SMALL = [("w0", 1), ("w1", 3), ("w2", 17), ("w3", 65)]

CASES = {
    "no_momentum": dict(
        seed=101,
        tensors=SMALL,
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=0.5,
        momentum=0.0,
    ),
    "momentum": dict(
        seed=102,
        tensors=SMALL,
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=0.2,
        momentum=0.9,
    ),
    "adjusted_momentum": dict(
        seed=103,
        tensors=SMALL,
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=0.2,
        momentum=0.9,
        adjusted_momentum=True,
    ),
    "max_lr_none": dict(
        seed=104,
        tensors=SMALL,
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=None,
        momentum=0.9,
    ),
    "max_lr_none_no_momentum": dict(
        seed=105,
        tensors=SMALL,
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=None,
        momentum=0.0,
    ),
    "projection": dict(
        seed=106,
        tensors=SMALL,
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=0.15,
        momentum=0.9,
        max_norm=4.0,
        target_norm=6.0,
    ),
    "groups": dict(
        seed=107,
        tensors=SMALL + [("frozen_in_group", 5), ("frozen_outside", 7)],
        groups=[
            dict(tensors=["w0", "w2"], max_lr=0.05, momentum=0.9),
            dict(tensors=["w1", "w3"], max_lr=0.5, momentum=0.0),
        ],
        # put into torch group 0 with requires_grad=False (grad stays None)
        frozen_in_torch_group={"frozen_in_group": 0},
        # requires_grad=True and used by the loss, so it has a gradient, but it is
        # in no param group: AliG must neither count nor update it
        grad_but_no_group=["frozen_outside"],
        max_lr=0.5,
        momentum=0.9,
    ),
    # the loss is scaled down so that ||g||^2 falls from ~1e-3 to below eps: the
    # trajectory depends on eps (1e-6 here, not the official 1e-5) at the percent level
    "small_grads": dict(
        seed=109,
        tensors=SMALL,
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=None,
        momentum=0.9,
        loss_scale=1e-3,
    ),
    # 516 floats a step: about 600 KB, the one file well over the others' ~110 KB
    "odd_sizes": dict(
        seed=108,
        tensors=[("w0", 1), ("w1", 3), ("w2", 255), ("w3", 257)],
        groups=[dict(tensors=["w0", "w1", "w2", "w3"])],
        max_lr=0.5,
        momentum=0.9,
    ),
}


# ---------------------------------------------------------------------------
# JSON output with shortest-repr float32 numbers
# ---------------------------------------------------------------------------
def f32_str(x) -> str:
    v = np.float32(x)
    if not np.isfinite(v):
        raise ValueError(f"non-finite value {v} cannot be written to JSON")
    s = str(v)  # numpy prints the shortest string that round-trips to this f32
    # serde_json parses an f32 field as f64 and then rounds: check that path too
    if np.float32(float(s)) != v or np.float32(np.float64(s)) != v:
        raise AssertionError(f"{s} does not round-trip to float32 {v!r}")
    return s


def f32_list(values) -> str:
    return "[" + ",".join(f32_str(v) for v in np.asarray(values, dtype=np.float32).ravel()) + "]"


def f32_map(names, arrays) -> str:
    return "{" + ",".join(f"{json.dumps(n)}:{f32_list(arrays[n])}" for n in names) + "}"


def write_fixture(path: Path, doc: dict) -> None:
    lines = ["{"]
    lines.append(f'  "case": {json.dumps(doc["case"])},')
    lines.append(f'  "generator": {json.dumps(doc["generator"])},')
    lines.append(f'  "config": {json.dumps(doc["config"])},')
    lines.append(f'  "tensors": {json.dumps(doc["tensors"])},')
    lines.append(f'  "groups": {json.dumps(doc["groups"])},')
    names = [t["name"] for t in doc["tensors"]]
    lines.append(f'  "initial_params": {f32_map(names, doc["initial_params"])},')
    lines.append('  "steps": [')
    for i, step in enumerate(doc["steps"]):
        grad_names = [n for n in names if n in step["grads"]]
        sep = "," if i + 1 < len(doc["steps"]) else ""
        lines.append(
            f'    {{"loss": {f32_str(step["loss"])}, '
            f'"grads": {f32_map(grad_names, step["grads"])}, '
            f'"params_after": {f32_map(names, step["params_after"])}}}{sep}'
        )
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # must be valid JSON
    path.write_text(text)


# ---------------------------------------------------------------------------
# The objective: noise-free least squares, loss_scale * 0.5 * mean((X @ w - y)^2),
# where w is the concatenation of every tensor (frozen ones too).  The columns of
# X are scaled over 0.1..3 so the problem is ill-conditioned: the loss falls
# steadily but is far from solved after 50 steps, and gamma_hat varies.
# ---------------------------------------------------------------------------
def make_problem(rng: np.random.Generator, dim: int, target_norm: float | None):
    n_samples = dim + 32  # overdetermined: a unique solution, reached slowly
    col_scale = np.exp(rng.uniform(np.log(0.1), np.log(3.0), size=dim))
    x = rng.standard_normal((n_samples, dim)) * col_scale
    w_true = rng.standard_normal(dim)
    if target_norm is not None:
        w_true *= target_norm / np.linalg.norm(w_true)
    return x.astype(np.float32), w_true


def run_case(name: str, spec: dict, generator_info: dict) -> dict:
    rng = np.random.default_rng(spec["seed"])
    torch.manual_seed(spec["seed"])
    tensor_specs = spec["tensors"]
    names = [n for n, _ in tensor_specs]
    sizes = dict(tensor_specs)
    dim = sum(sizes.values())
    frozen_in_torch_group = spec.get("frozen_in_torch_group", {})
    grad_but_no_group = spec.get("grad_but_no_group", [])

    x_np, w_true = make_problem(rng, dim, spec.get("target_norm"))
    init_scale = 0.1 if spec.get("max_norm") is not None else 0.5
    init = {n: (rng.standard_normal(sizes[n]) * init_scale).astype(np.float32) for n in names}

    # frozen tensors are part of the model; make the problem interpolable anyway
    offsets, off = {}, 0
    for n in names:
        offsets[n] = off
        off += sizes[n]
    for n in list(frozen_in_torch_group) + list(grad_but_no_group):
        w_true[offsets[n]: offsets[n] + sizes[n]] = init[n]
    y_np = (x_np.astype(np.float64) @ w_true).astype(np.float32)

    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    params = {}
    for n in names:
        params[n] = torch.tensor(init[n], dtype=torch.float32, requires_grad=(n not in frozen_in_torch_group))

    max_lr_default = spec["max_lr"]
    momentum_default = spec["momentum"]
    adjusted = spec.get("adjusted_momentum", False)
    max_norm = spec.get("max_norm")
    loss_scale = spec.get("loss_scale", 1.0)

    torch_groups = []
    for gi, g in enumerate(spec["groups"]):
        tg = {"params": [params[n] for n in g["tensors"]]}
        tg["params"] += [params[n] for n, idx in frozen_in_torch_group.items() if idx == gi]
        if "max_lr" in g:
            tg["max_lr"] = g["max_lr"]
        if "momentum" in g:
            tg["momentum"] = g["momentum"]
        torch_groups.append(tg)
    trained = [n for g in spec["groups"] for n in g["tensors"]]
    trained_params = [params[n] for n in trained]

    projection_fn = None
    if max_norm is not None:
        if len(spec["groups"]) != 1:
            raise ValueError("AliG projects once per group: keep projection cases to one group")
        projection_fn = lambda: l2_projection(trained_params, max_norm=max_norm)  # noqa: E731

    opt = AliG(
        torch_groups,
        max_lr=max_lr_default,
        projection_fn=projection_fn,
        momentum=momentum_default,
        adjusted_momentum=adjusted,
    )
    # AliG.__init__ calls projection_fn once; the initial values are chosen inside
    # the ball so that this is a no-op and initial_params are what was sampled
    for n in names:
        if not np.array_equal(params[n].detach().numpy(), init[n]):
            raise AssertionError(f"{name}: construction-time projection changed {n}")

    def loss_fn():
        w = torch.cat([params[n] for n in names])
        r = x @ w - y
        return loss_scale * 0.5 * (r * r).mean()

    seen = {}

    def closure():
        for n in names:
            params[n].grad = None
        with torch.enable_grad():  # AliG.step runs under torch.no_grad()
            loss = loss_fn()
            loss.backward()
        seen["loss"] = np.float32(loss.item())
        seen["grads"] = {n: params[n].grad.detach().numpy().copy() for n in trained}
        return float(loss.item())

    steps = []
    capped = 0
    projected = 0
    gammas = []
    for _ in range(STEPS):
        opt.step(closure)
        grads = seen["grads"]
        for n in trained:  # the optimizer must not have changed the gradients
            assert np.array_equal(params[n].grad.numpy(), grads[n])
        for n in frozen_in_torch_group:
            assert params[n].grad is None
        for n in grad_but_no_group:
            assert params[n].grad is not None
        # gamma per group, as AliG stored it, against the f64 formula
        sq = sum(float(np.sum(grads[n].astype(np.float64) ** 2)) for n in trained)
        gamma_hat = float(seen["loss"]) / (sq + EPS)
        gammas.append(gamma_hat)
        for tg in opt.param_groups:
            expect = gamma_hat if tg["max_lr"] is None else min(gamma_hat, tg["max_lr"])
            if not math.isclose(tg["step_size"], expect, rel_tol=1e-5):
                raise AssertionError(f"{name}: step_size {tg['step_size']} != {expect}")
            if tg["max_lr"] is not None and gamma_hat > tg["max_lr"]:
                capped += 1
        if max_norm is not None:
            norm_after = math.sqrt(sum(float(np.sum(params[n].detach().numpy().astype(np.float64) ** 2)) for n in trained))
            projected += norm_after > max_norm * (1 - 1e-5)
        steps.append(
            dict(
                loss=seen["loss"],
                grads=grads,
                params_after={n: params[n].detach().numpy().copy() for n in names},
            )
        )

    losses = [float(s["loss"]) for s in steps]
    json_groups = []
    for g in opt.param_groups:
        members = [n for n in trained if any(params[n] is p for p in g["params"])]
        json_groups.append(dict(tensors=members, max_lr=g["max_lr"], momentum=g["momentum"]))

    doc = dict(
        case=name,
        generator=generator_info,
        config=dict(
            max_lr=max_lr_default,
            momentum=momentum_default,
            adjusted_momentum=adjusted,
            eps=EPS,
            max_norm=max_norm,
        ),
        tensors=[dict(name=n, len=sizes[n]) for n in names],
        groups=json_groups,
        initial_params=init,
        steps=steps,
    )
    final_norm = math.sqrt(sum(float(np.sum(params[n].detach().numpy().astype(np.float64) ** 2)) for n in trained))
    print(
        f"{name:24s} loss {losses[0]:.4g} -> {losses[-1]:.4g} (min {min(losses):.3g}), "
        f"gamma_hat {min(gammas):.3g}..{max(gammas):.3g}, "
        f"capped group-steps {capped}/{STEPS * len(opt.param_groups)}, final ||w|| {final_norm:.4g}"
        + (f", projection active on {projected}/{STEPS} steps" if max_norm is not None else "")
    )
    return doc

# ---------------------------------------------------------------------------
# Semantic probes: facts about AliG that the fixtures rely on or that differ
# from the official implementation.  Each one asserts, so a different
# pytorch-optimizer version that changed them would stop the script.
# ---------------------------------------------------------------------------
def probe_semantics() -> None:
    def setup(n_groups=1, **kw):
        torch.manual_seed(0)
        ps = [torch.randn(n, requires_grad=True) for n in (3, 5)]
        with torch.enable_grad():
            loss = sum((p * p).sum() for p in ps) + 1.0
            loss.backward()
        groups = [{"params": ps}] if n_groups == 1 else [{"params": [ps[0]]}, {"params": [ps[1]]}]
        return ps, AliG(groups, **kw), loss.item()

    def sq_norm(ps):
        return sum(float((p.grad.double() ** 2).sum()) for p in ps)

    # 1. eps: 1e-6 added to ||g||^2; an eps= argument is swallowed by **kwargs
    ps, opt, loss = setup(max_lr=None, eps=0.5)
    opt.step(lambda: loss)
    expect = loss / (sq_norm(ps) + 1e-6)
    assert math.isclose(opt.param_groups[0]["step_size"], expect, rel_tol=1e-6)
    assert "eps" not in opt.param_groups[0]
    print("probe: eps is fixed at 1e-6 (added to the squared norm); eps=0.5 was accepted and ignored")

    # 2. no clip at 0: a negative loss gives a negative step, i.e. gradient ascent
    ps, opt, _ = setup(max_lr=0.1)
    before = [p.detach().clone() for p in ps]
    opt.step(lambda: -1.0)
    step = opt.param_groups[0]["step_size"]
    assert step < 0 and math.isclose(step, -1.0 / (sq_norm(ps) + 1e-6), rel_tol=1e-6)
    assert all(torch.allclose(p.detach(), b + abs(step) * p.grad) for p, b in zip(ps, before))
    print(f"probe: loss -1 gives step_size {step:.4g} < 0 (min(gamma_hat, max_lr) is not clipped at 0): ascent")

    # 3. the closure runs once per step, under torch.no_grad()
    calls = []
    ps, opt, loss = setup(max_lr=0.1)
    opt.step(lambda: calls.append(torch.is_grad_enabled()) or loss)
    assert calls == [False]
    print("probe: the closure is called once per step, with grad disabled (it must enable grad itself)")

    # 4. projection_fn: called once in __init__ and once per param group per step,
    #    after that group's update (before later groups are updated)
    counter = []
    ps, opt, loss = setup(n_groups=2, max_lr=0.1, projection_fn=lambda: counter.append(1))
    assert len(counter) == 1
    opt.step(lambda: loss)
    assert len(counter) == 3
    ps, opt, loss = setup(n_groups=2, max_lr=0.1, momentum=0.0)
    w0 = [p.detach().double().clone() for p in ps]
    g = [p.grad.double() for p in ps]
    max_norm = 0.5 * math.sqrt(sum(float((w ** 2).sum()) for w in w0))
    opt.projection_fn = lambda: l2_projection(ps, max_norm=max_norm)
    opt.step(lambda: loss)
    gamma = opt.param_groups[0]["step_size"]

    def project(ws):
        norm = math.sqrt(sum(float((w ** 2).sum()) for w in ws))
        return [w * (max_norm / norm) for w in ws] if norm > max_norm else ws

    once = project([w - gamma * gg for w, gg in zip(w0, g)])
    per_group = project([w0[0] - gamma * g[0], w0[1]])
    per_group = project([per_group[0], per_group[1] - gamma * g[1]])
    got = [p.detach().double() for p in ps]
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(got, per_group))
    diff = max(float((a - b).abs().max()) for a, b in zip(got, once))
    assert diff > 1e-3
    print(f"probe: projection_fn runs in __init__ and after each group's update; with 2 groups the result "
          f"differs from one projection per step by up to {diff:.3g}")

    # 5. the norm covers every group, skips grad=None, ignores tensors outside the optimizer
    torch.manual_seed(0)
    a, b, c = (torch.randn(4, requires_grad=True) for _ in range(3))
    frozen = torch.randn(2)  # requires_grad=False, grad None
    with torch.enable_grad():
        loss = (a * a).sum() + (b * b).sum() + (c * c).sum() + 1.0
        loss.backward()
    opt = AliG([{"params": [a, frozen], "max_lr": None}, {"params": [b], "max_lr": 1e9, "momentum": 0.5}],
               max_lr=None)
    opt.step(lambda: loss.item())
    sq = sum(float((t.grad.double() ** 2).sum()) for t in (a, b))
    assert math.isclose(opt.param_groups[0]["step_size"], loss.item() / (sq + 1e-6), rel_tol=1e-6)
    assert opt.param_groups[1]["momentum"] == 0.5 and "momentum_buffer" in opt.state[b]
    assert "momentum_buffer" not in opt.state[a] and len(opt.state[frozen]) == 0
    print("probe: ||g||^2 sums the grads of all groups' params that have a grad (frozen and "
          "out-of-optimizer tensors excluded); max_lr and momentum are per group")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: tests/fixtures)")
    ap.add_argument("cases", nargs="*", help="cases to write (default: all)")
    args = ap.parse_args()

    installed = importlib.metadata.version("pytorch-optimizer")
    if installed != REQUIRED_PYTORCH_OPTIMIZER:
        print(f"error: pytorch-optimizer {installed} installed, the fixtures pin {REQUIRED_PYTORCH_OPTIMIZER}")
        return 1
    torch.set_num_threads(1)  # deterministic reductions
    probe_semantics()
    generator_info = {
        "torch": torch.__version__.split("+")[0],
        "pytorch_optimizer": REQUIRED_PYTORCH_OPTIMIZER,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.cases or CASES:
        doc = run_case(name, CASES[name], generator_info)
        path = args.out / f"alig_{name}.json"
        write_fixture(path, doc)
        print(f"  wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} "
              f"({path.stat().st_size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
