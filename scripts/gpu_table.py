#!/usr/bin/env python3
"""One table out of the GPU run: the crate's step (``cargo bench --bench step`` with
``ALIG_BENCH_CSV``), the copy anchors (the benchmark's ``copy_buffer_to_buffer`` and a ``torch``
copy of the same bytes) and pytorch-optimizer's ``AliG`` (``scripts/gpu_torch_compare.py``), per N,
tensor count and momentum setting; then the work-split sweep's verdict. Writes the table as CSV
and a markdown summary (header lines from the run, the table, the sweep, the tests' results).

    python3 scripts/gpu_table.py --bench bench.csv --torch torch.csv --sweep sweep.csv \\
        --header header.txt --tests tests.txt --csv table.csv --markdown summary.md

Every input may be missing or partial (a stage cut by its time limit): the cells it would
fill are left empty ("n/a" in the markdown).
"""

import argparse
import csv
import os

TABLE_COLUMNS = [
    "n", "tensors", "momentum", "min_traffic_bytes",
    "step_us", "step_gbps", "roof_us", "step_over_roof",
    "wgpu_copy_us", "step_over_wgpu_copy", "torch_copy_us", "step_over_torch_copy",
    "alig_foreach_us", "alig_loop_us", "alig_foreach_gbps", "alig_foreach_over_step", "alig_loop_over_step",
    "clock", "torch_clock",
]


def read_rows(path):
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def combine(bench, torch_rows):
    """One record per (n, tensors, momentum) of either side, in the benchmark's order. The
    benchmark's f32 rows only (its ``precision`` column; the f16 rows have no PyTorch side)."""
    bench = [r for r in bench if r.get("precision", "f32") in ("f32", "", None)]
    keys = []
    for row in bench + torch_rows:
        if row.get("tensors") in ("", None):
            continue
        key = (int(row["n"]), int(row["tensors"]), row["momentum"])
        if key not in keys:
            keys.append(key)
    keys.sort(key=lambda k: (k[0], k[1], k[2] == "on"))
    by_bench = {(int(r["n"]), int(r["tensors"]), r["momentum"]): r for r in bench}
    torch_by = {}
    torch_copy = {}
    for r in torch_rows:
        if r["kernel"] == "copy":
            torch_copy[(int(r["n"]), r["momentum"])] = r
        else:
            torch_by[(int(r["n"]), int(r["tensors"]), r["momentum"], r["kernel"])] = r
    records = []
    for n, tensors, momentum in keys:
        b = by_bench.get((n, tensors, momentum), {})
        foreach = torch_by.get((n, tensors, momentum, "alig_foreach"), {})
        loop = torch_by.get((n, tensors, momentum, "alig_loop"), {})
        copy = torch_copy.get((n, momentum), {})
        traffic = 4 * n * (5 if momentum == "on" else 3)
        step = number(b.get("step_us"))
        roof = number(b.get("roof_us"))
        wgpu_copy = number(b.get("copy_us"))
        torch_copy_us = number(copy.get("time_us"))
        alig_foreach = number(foreach.get("time_us"))
        alig_loop = number(loop.get("time_us"))
        records.append({
            "n": n, "tensors": tensors, "momentum": momentum, "min_traffic_bytes": traffic,
            "step_us": step,
            "step_gbps": traffic / step / 1e3 if step else None,
            "roof_us": roof,
            "step_over_roof": ratio(roof, step),
            "wgpu_copy_us": wgpu_copy,
            "step_over_wgpu_copy": ratio(wgpu_copy, step),
            "torch_copy_us": torch_copy_us,
            "step_over_torch_copy": ratio(torch_copy_us, step),
            "alig_foreach_us": alig_foreach,
            "alig_loop_us": alig_loop,
            "alig_foreach_gbps": traffic / alig_foreach / 1e3 if alig_foreach else None,
            "alig_foreach_over_step": ratio(alig_foreach, step),
            "alig_loop_over_step": ratio(alig_loop, step),
            "clock": b.get("clock", ""),
            "torch_clock": foreach.get("clock", loop.get("clock", "")),
        })
    return records


def csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def power(n):
    """1e8 as 10^8, 16000000 as 1.6·10^7."""
    text = f"{n:.1e}"
    mantissa, exponent = text.split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    exponent = int(exponent)
    return f"10^{exponent}" if mantissa == "1" else f"{mantissa}·10^{exponent}"


def md(value, digits=2, scale=1.0):
    if value is None:
        return "n/a"
    value *= scale
    if digits == 0:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def markdown_table(records):
    lines = [
        "| N | tensors | mom | step us | step GB/s | step / roof | step / wgpu copy | step / torch copy "
        "| AliG foreach us | AliG loop us | AliG foreach GB/s | AliG foreach / step | AliG loop / step |",
        "|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        step_digits = 1 if r["step_us"] is not None and r["step_us"] < 100 else 0
        lines.append(
            f"| {power(r['n'])} | {r['tensors']} | {r['momentum']} | {md(r['step_us'], step_digits)} "
            f"| {md(r['step_gbps'], 1)} | {md(r['step_over_roof'])} | {md(r['step_over_wgpu_copy'])} "
            f"| {md(r['step_over_torch_copy'])} | {md(r['alig_foreach_us'], 0)} | {md(r['alig_loop_us'], 0)} "
            f"| {md(r['alig_foreach_gbps'], 1)} | {md(r['alig_foreach_over_step'])} "
            f"| {md(r['alig_loop_over_step'])} |"
        )
    return lines


def sweep_lines(sweep):
    """Per N and kernel: the crate's split, the best split and the speed-up."""
    if not sweep:
        return ["No sweep figures (the sweep did not run or was cut)."]
    lines = [
        "| N | kernels | crate's split: workgroups, time us | best: workgroups (vec4/thread set, eff.) | best time us "
        "| best / crate's split |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    groups = {}
    for r in sweep:
        if r["kernel"] == "step":
            continue
        groups.setdefault((int(r["n"]), r["kernel"]), []).append(r)
    for (n, kernel), rows in groups.items():
        crate = next((r for r in rows if r["crate_split"] == "true"), None)
        best = min(rows, key=lambda r: number(r["time_us"]) or float("inf"))
        crate_text = f"{crate['workgroups']}, {md(number(crate['time_us']), 0)}" if crate else "n/a"
        speedup = ratio(number(crate["time_us"]), number(best["time_us"])) if crate else None
        lines.append(
            f"| {power(n)} | {kernel} | {crate_text} "
            f"| {best['workgroups']} ({best['vec4_per_thread']}, {best['effective_vec4_per_thread']}) "
            f"| {md(number(best['time_us']), 0)} | {md(speedup)} |"
        )
    steps = [r for r in sweep if r["kernel"] == "step"]
    for r in steps:
        lines.append("")
        lines.append(
            f"The step itself at N = {power(int(r['n']))} under the crate's split "
            f"({r['workgroups']} workgroups per window): {md(number(r['time_us']), 0)} us, {r['gbps']} GB/s."
        )
    return lines


def read_text(path):
    if path and os.path.exists(path):
        with open(path) as file:
            return file.read().rstrip("\n").splitlines()
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench")
    parser.add_argument("--torch")
    parser.add_argument("--sweep")
    parser.add_argument("--header", help="text lines to put first (date, adapter, ...)")
    parser.add_argument("--tests", help="text lines of the tests' results")
    parser.add_argument("--csv", required=True)
    parser.add_argument("--markdown", required=True)
    args = parser.parse_args()

    records = combine(read_rows(args.bench), read_rows(args.torch))
    with open(args.csv, "w", newline="") as file:
        out = csv.writer(file)
        out.writerow(TABLE_COLUMNS)
        for r in records:
            out.writerow([csv_cell(r[c]) for c in TABLE_COLUMNS])

    lines = ["# wgpu-alig on a GPU: the step, the copy anchors and pytorch-optimizer's AliG", ""]
    lines += read_text(args.header)
    lines += [
        "",
        "## The step against the copies and PyTorch",
        "",
        "Times are medians (the crate: GPU timestamps where the adapter has them; PyTorch: CUDA events, "
        "or the host's clock on a CPU). GB/s = the step's minimum traffic (4 B x N x 3 without momentum, "
        "x 5 with) / time. `step / roof`, `step / ... copy` = that kernel's time / the step's time, the "
        "same bytes moved (the fraction of its bandwidth the step reaches). `AliG ... / step` = AliG's "
        "time / the crate's step time (> 1: the crate is faster). max_lr 0.1, momentum 0.9 (Nesterov) "
        "where on, loss 1.0 from the host.",
        "",
    ]
    lines += markdown_table(records) if records else ["No figures (the benchmark and PyTorch stages did not run)."]
    lines += ["", "## Work split (streaming kernels under forced splits)", ""]
    lines += sweep_lines(read_rows(args.sweep))
    tests = read_text(args.tests)
    if tests:
        lines += ["", "## Tests", "", "```text", *tests, "```"]
    with open(args.markdown, "w") as file:
        file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
