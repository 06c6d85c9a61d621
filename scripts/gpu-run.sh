#!/usr/bin/env bash
# The crate on a real GPU in one command: the test suite on the machine's Vulkan adapter,
# `cargo bench --bench step` at up to 10^8 and 10^9 parameters, the per-pass times with
# checked and unchecked kernels, a work-split sweep, pytorch-optimizer's AliG with a torch
# copy of the same bytes on CUDA, the Fashion-MNIST study in its full form and the burn
# adapter's benchmark, then one summary.
#
# Usage
#   scripts/gpu-run.sh --prepare
#       On a build machine (Rust toolchain, network, x86-64 Linux), in the checkout whose
#       tree is sent to the GPU machine. The GPU machine has no Rust toolchain and reaches no
#       registry, so this builds what it runs and fetches what it lacks, into three folders
#       that git ignores and that must travel with the tree (64 MiB in all, tree included):
#         .gpu-bin/  the release test binaries, the step benchmark, the train_fashion example
#                    and the burn adapter's benchmark (built in burn's cached target,
#                    WGPU_ALIG_BURN_TARGET as in .ci/run), stripped, packed as bins.tar.xz,
#                    with build-root (where they were built: tests that read files find them
#                    through it) and manifest.txt (commit, rustc, sizes);
#         .gl/       the Vulkan loader and glvnd libraries as Debian packages (amd64), for a
#                    machine where `ldconfig -p` lists no libvulkan;
#         .whl/      the pytorch-optimizer wheel (pure Python; torch and numpy are there);
#         .data/     the four Fashion-MNIST files (from FASHION_MNIST_DIR, else Debian's
#                    dataset-fashion-mnist), for the study.
#       Rerun it after any change to the crate, its tests or its benchmark: the binaries are
#       what runs there.
#
#   scripts/gpu-run.sh OUT [--dry-run] [--skip-tests] [--tests LIST] [--sizes LIST]
#                          [--sweep-sizes LIST] [--budget SECONDS]
#       Runs everything and writes into the folder OUT ($1): summary.md (the table, the
#       sweep, the tests, the adapter and the date), table.csv, sweep.csv, run.log (all
#       output) and raw.tar.gz (every stage's own output and CSV). On the GPU machine, from
#       the repository root, with .gpu-bin, .gl and .whl carried:
#         bash scripts/gpu-run.sh "$OUT"
#       It unpacks the loader if no libvulkan is installed, points the loader at the NVIDIA
#       driver's manifest, installs the wheel into a temporary folder, and keeps within
#       --budget seconds (default 540, for a 600 s command: every stage has a time limit,
#       and a stage cut short still leaves the rows it finished; the study writes its
#       outputs only at its end). Sizes follow the card's free memory: 1.6e7, 1e8
#       and 1e9 parameters with 48 GiB or more (10^9 with momentum holds 12 GB in the arena
#       and twice 10 GB for the same-bytes copy).
#       --dry-run: the same stages on whatever adapter there is (lavapipe on a machine
#       without a GPU), at 1e5 and 1e6 parameters, the benchmark in its quick mode, PyTorch
#       on the CPU, the study on 1,000 images for one epoch with one value per grid, the burn
#       benchmark at its small size, no time budget, at low priority:
#         XDG_RUNTIME_DIR=$(mktemp -d) PYTHON=venv/bin/python3 scripts/gpu-run.sh target/gpu-run-dry --dry-run
#       --skip-tests leaves the test stage out; --tests accuracy,scale runs only those test
#       binaries (named after their files in tests/; wgpu_alig is the library's own). PYTHON names the interpreter (default
#       python3, the one that holds torch on the GPU machine).

set -uo pipefail

die() {
    echo "gpu-run: $*" >&2
    exit 1
}

cd "$(dirname "$0")/.." || die "cannot enter the repository root"
ROOT=$PWD
PYTHON=${PYTHON:-python3}
BURN_TARGET="${WGPU_ALIG_BURN_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/wgpu-alig-burn-target}"
FASHION_SOURCE="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"

# --- preparation (build machine) --------------------------------------------------------

# Builds the release test binaries and the step benchmark and copies them into $1/tests and
# $1/bench (cargo's JSON messages name each executable).
collect_binaries() {
    local dest=$1 json
    mkdir -p "$dest/tests" "$dest/bench" "$dest/examples" "$dest/burn"
    json=$(mktemp)
    cargo test --release --no-run --message-format=json >"$json" || return 1
    cargo bench --bench step --no-run --message-format=json >>"$json" || return 1
    cargo build --release --example train_fashion --message-format=json >>"$json" || return 1
    (cd wgpu-alig-burn && CARGO_TARGET_DIR="$BURN_TARGET" \
        cargo bench --locked --bench optimizer_step --no-run --message-format=json) >>"$json" || return 1
    "$PYTHON" - "$json" "$dest" <<'EOF' || return 1
import json, shutil, sys
messages, dest = sys.argv[1], sys.argv[2]
seen = set()
for line in open(messages):
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    exe = m.get("executable")
    if m.get("reason") != "compiler-artifact" or not exe:
        continue
    kinds = m["target"]["kind"]
    name = m["target"]["name"]
    if "example" in kinds:
        # `cargo test` builds every example; only the study runs there.
        if name != "train_fashion":
            continue
        folder = "examples"
    elif not m.get("profile", {}).get("test"):
        continue
    elif "wgpu-alig-burn" in m.get("package_id", ""):
        folder = "burn"
    else:
        folder = "bench" if "bench" in kinds else "tests"
    if (folder, name) in seen:
        continue
    seen.add((folder, name))
    shutil.copy2(exe, f"{dest}/{folder}/{name}")
    print(f"  {folder}/{name}")
EOF
    rm -f "$json"
}

prepare() {
    command -v cargo >/dev/null || die "--prepare needs cargo"
    command -v xz >/dev/null || die "--prepare needs xz"
    [ "$(uname -m)" = x86_64 ] || die "--prepare must run on x86-64 (the GPU machine's processor)"
    local stage
    stage=$(mktemp -d)
    echo "building the release test binaries and the step benchmark"
    collect_binaries "$stage" || die "the build failed"
    strip --strip-all "$stage"/tests/* "$stage"/bench/* "$stage"/examples/* "$stage"/burn/* ||
        die "strip failed"
    mkdir -p .gpu-bin .gl .whl .data/fashion-mnist
    rm -f .gpu-bin/* .gl/*.deb .whl/*.whl .data/fashion-mnist/*
    # One solid archive with a large dictionary: the binaries share most of their code.
    tar -C "$stage" -cf - tests bench examples burn | xz -9e --lzma2=preset=9e,dict=512MiB >.gpu-bin/bins.tar.xz ||
        die "packing failed"
    echo "$ROOT" >.gpu-bin/build-root
    {
        echo "commit: $(git rev-parse HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
        echo "built: $(date -u '+%Y-%m-%d %H:%M UTC') with $(rustc -V)"
        echo "glibc: $(ldd --version | head -n 1)"
        echo "newest glibc symbol needed: $(objdump -T "$stage"/*/* 2>/dev/null |
            grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
        (cd "$stage" && ls -l tests bench examples burn)
    } >.gpu-bin/manifest.txt
    rm -rf "$stage"

    echo "downloading the Vulkan loader and glvnd (amd64 .debs)"
    local lists
    lists=$(mktemp -d)
    mkdir -p "$lists/partial"
    local apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
    apt-get "${apt_opts[@]}" update >/dev/null || die "apt-get update failed"
    (cd .gl && apt-get "${apt_opts[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2) ||
        die "apt-get download failed"
    rm -rf "$lists"

    echo "downloading the pytorch-optimizer wheel"
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl pytorch-optimizer==4.1.0 || die "pip download failed"

    echo "copying the Fashion-MNIST files from $FASHION_SOURCE"
    cp "$FASHION_SOURCE"/*-ubyte.gz .data/fashion-mnist/ ||
        die "no Fashion-MNIST in $FASHION_SOURCE (apt-get install dataset-fashion-mnist)"

    cat .gpu-bin/manifest.txt
    du -sh .gpu-bin .gl .whl .data
    local total
    total=$(du -scm .gpu-bin .gl .whl .data | tail -n 1 | cut -f 1)
    echo "carried: $total MiB (with the tracked tree, at most 64 MiB may travel)"
    [ "$total" -lt 56 ] || echo "WARNING: the carried folders leave little room under 64 MiB"
}

if [ "${1:-}" = --prepare ]; then
    prepare
    exit 0
fi

# --- the run ----------------------------------------------------------------------------

{ [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; } || die "usage: $0 OUT [--dry-run] [--skip-tests] [--tests LIST] [--sizes LIST] [--sweep-sizes LIST] [--budget S] | --prepare"
OUT=$1
shift
DRY_RUN=0 SKIP_TESTS=0 ONLY_TESTS='' SIZES='' SWEEP_SIZES='' BUDGET=''
while [ $# -gt 0 ]; do
    case $1 in
    --dry-run) DRY_RUN=1 ;;
    --skip-tests) SKIP_TESTS=1 ;;
    --tests) ONLY_TESTS=$2 && shift ;;
    --sizes) SIZES=$2 && shift ;;
    --sweep-sizes) SWEEP_SIZES=$2 && shift ;;
    --budget) BUDGET=$2 && shift ;;
    *) die "unknown argument: $1" ;;
    esac
    shift
done
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
RAW=$WORK/raw
mkdir -p "$RAW/tests"
exec > >(tee "$OUT/run.log") 2>&1
TEE_PID=$!

if [ $DRY_RUN = 1 ]; then
    BUDGET=${BUDGET:-100000}
    NICE=(nice -n 10)
else
    BUDGET=${BUDGET:-540}
    NICE=()
fi
DEADLINE=$((SECONDS + BUDGET))
STATUS=()

# The time limit of a stage: its cap, or what is left before the deadline less what the
# later stages need at least, and 10 s at the very least.
limit() {
    local cap=$1 reserve=$2 left
    left=$((DEADLINE - SECONDS - reserve))
    [ "$left" -lt "$cap" ] && cap=$left
    [ "$cap" -lt 10 ] && cap=10
    echo "$cap"
}

# Runs a stage under `timeout`, its output shown and kept in LOG, and notes its outcome:
# stage NAME LIMIT LOG COMMAND...
stage() {
    local name=$1 seconds=$2 log=$3 start=$SECONDS rc verdict
    shift 3
    echo
    echo "=== $name (limit ${seconds} s) ==="
    timeout --kill-after=10 "$seconds" "${NICE[@]}" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    verdict="ok"
    [ "$rc" -ne 0 ] && verdict="exit $rc"
    { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && verdict="cut at its limit of ${seconds} s"
    STATUS+=("$name: $verdict, $((SECONDS - start)) s")
    echo "=== $name: $verdict, $((SECONDS - start)) s ==="
}

echo "gpu-run $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $( [ $DRY_RUN = 1 ] && echo 'DRY RUN' || echo 'GPU run'), budget ${BUDGET} s"
echo "host: $(uname -srm), $(nproc) cores"

# The binaries: the carried bundle, else a build where cargo is (the GPU machine has none).
BIN=$WORK/bin
mkdir -p "$BIN"
if [ -f .gpu-bin/bins.tar.xz ]; then
    echo "binaries: .gpu-bin/bins.tar.xz"
    sed 's/^/  /' .gpu-bin/manifest.txt 2>/dev/null | head -n 4
    if ! tar -C "$BIN" -xJf .gpu-bin/bins.tar.xz 2>/dev/null; then
        "$PYTHON" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
            .gpu-bin/bins.tar.xz "$BIN" || die "cannot unpack .gpu-bin/bins.tar.xz"
    fi
elif command -v cargo >/dev/null; then
    echo "binaries: no .gpu-bin/bins.tar.xz, building with cargo"
    collect_binaries "$BIN" || die "the build failed"
    echo "$ROOT" >"$WORK/build-root"
else
    die "no .gpu-bin/bins.tar.xz and no cargo: run scripts/gpu-run.sh --prepare on a build machine and carry .gpu-bin"
fi
BENCH=$BIN/bench/step
[ -x "$BENCH" ] || die "no step benchmark among the binaries"

# Tests that read files (fixtures, data) find them under the path they were built in: where
# that path is not there, it is made a link to this tree.
BUILD_ROOT=$(cat .gpu-bin/build-root "$WORK/build-root" 2>/dev/null | head -n 1)
if [ -n "$BUILD_ROOT" ] && [ ! -e "$BUILD_ROOT/tests/fixtures" ]; then
    if mkdir -p "$(dirname "$BUILD_ROOT")" && ln -sfn "$ROOT" "$BUILD_ROOT"; then
        echo "linked the build path $BUILD_ROOT to this tree"
    else
        echo "WARNING: cannot link the build path $BUILD_ROOT: the tests reading fixtures will fail"
    fi
fi

# The Vulkan loader, and the NVIDIA driver's manifest where the loader does not look.
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    if compgen -G '.gl/*.deb' >/dev/null; then
        echo "no libvulkan: unpacking .gl/*.deb"
        for deb in .gl/*.deb; do dpkg -x "$deb" / || die "cannot unpack $deb"; done
        ldconfig
    else
        echo "WARNING: no libvulkan and no .gl/*.deb: the Vulkan stages will find no adapter"
    fi
fi
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$NVIDIA_ICD" ] && [ $DRY_RUN = 0 ]; then
    export VK_DRIVER_FILES=$NVIDIA_ICD VK_ICD_FILENAMES=$NVIDIA_ICD
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    echo "Vulkan driver manifest: $NVIDIA_ICD"
fi
export WGPU_BACKEND=vulkan

# pytorch-optimizer from the carried wheel where the interpreter lacks it.
if ! "$PYTHON" -c 'import pytorch_optimizer' 2>/dev/null; then
    if compgen -G '.whl/*.whl' >/dev/null; then
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$WORK/site" .whl/*.whl || echo "WARNING: installing .whl/*.whl failed"
        export PYTHONPATH=$WORK/site${PYTHONPATH:+:$PYTHONPATH}
    else
        echo "WARNING: pytorch-optimizer is missing and .whl holds no wheel: the PyTorch stage will fail"
    fi
fi

# The GPU and the sizes.
GPU_LINE=''
if command -v nvidia-smi >/dev/null; then
    GPU_LINE=$(nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version,clocks.max.sm,clocks.max.mem \
        --format=csv,noheader 2>/dev/null | head -n 1)
    echo "nvidia-smi: $GPU_LINE (name, memory total, free, driver, max SM and memory clocks)"
fi
if [ -z "$SIZES" ]; then
    if [ $DRY_RUN = 1 ]; then
        SIZES=1e5,1e6
    else
        FREE_MIB=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits 2>/dev/null | head -n 1)
        FREE_MIB=${FREE_MIB:-0}
        if [ "$FREE_MIB" -ge 49152 ]; then
            SIZES=1.6e7,1e8,1e9
        elif [ "$FREE_MIB" -ge 8192 ]; then
            SIZES=1.6e7,1e8
        else
            SIZES=1.6e7
        fi
    fi
fi
if [ -z "$SWEEP_SIZES" ]; then
    if [ $DRY_RUN = 1 ]; then
        SWEEP_SIZES=1e6
    else
        SWEEP_SIZES=$(echo "$SIZES" | tr ',' '\n' | grep -E '^1e(8|9)$' | paste -sd, -)
        SWEEP_SIZES=${SWEEP_SIZES:-$SIZES}
    fi
fi
echo "sizes: $SIZES; sweep: $SWEEP_SIZES"

# --- tests: every test binary on the Vulkan adapter, several at a time on a large machine.
TESTS_TXT=$WORK/tests.txt
run_tests() {
    local jobs=$1 t
    for t in "$BIN"/tests/*; do
        if [ -n "$ONLY_TESTS" ] && [[ ",$ONLY_TESTS," != *",$(basename "$t"),"* ]]; then
            continue
        fi
        (
            local name start rc summary
            name=$(basename "$t")
            start=$SECONDS
            "$t" >"$RAW/tests/$name.log" 2>&1
            rc=$?
            summary=$(grep -E '^test result:' "$RAW/tests/$name.log" | tail -n 1)
            if [ $rc -eq 0 ]; then
                echo "ok      $name: ${summary#test result: } ($((SECONDS - start)) s)"
            else
                echo "FAILED  $name (exit $rc): ${summary#test result: } ($((SECONDS - start)) s)"
                grep -E '^test .* FAILED$|panicked at' "$RAW/tests/$name.log" | head -n 5 | sed 's/^/          /'
            fi
        ) &
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    done
    wait
}
if [ $SKIP_TESTS = 0 ]; then
    if [ $DRY_RUN = 1 ]; then TEST_JOBS=1; else TEST_JOBS=4; fi
    export -f run_tests
    export BIN RAW ONLY_TESTS
    stage tests "$(limit 80 440)" "$TESTS_TXT" bash -c "run_tests $TEST_JOBS"
    grep -q '^FAILED' "$TESTS_TXT" && STATUS+=("tests: some FAILED, see below")
else
    echo "tests skipped (--skip-tests)" | tee "$TESTS_TXT"
fi

# --- the step benchmark.
# The f32 rows, which the table compares with PyTorch, unless ALIG_BENCH_PRECISION asks for
# more (the f16 rows triple the stage's work, and its time limit was set for the f32 ones).
BENCH_ENV=(ALIG_BENCH_N="$SIZES" ALIG_BENCH_CSV="$RAW/bench.csv"
    ALIG_BENCH_PRECISION="${ALIG_BENCH_PRECISION:-f32}")
[ $DRY_RUN = 1 ] && BENCH_ENV+=(ALIG_BENCH_QUICK=1)
stage "cargo bench --bench step" "$(limit 165 275)" "$RAW/bench.txt" env "${BENCH_ENV[@]}" "$BENCH" --bench

# --- the per-pass times, with checked and unchecked kernels (also at the end of the bench
# above, when it finishes in its time; here at the two smaller sizes, so that they come
# back whatever happens to the larger ones).
PASS_SIZES=$(echo "$SIZES" | tr ',' '\n' | head -n 2 | paste -sd, -)
PASS_ENV=(ALIG_BENCH_PER_PASS=1 ALIG_BENCH_N="$PASS_SIZES")
[ $DRY_RUN = 1 ] && PASS_ENV+=(ALIG_BENCH_QUICK=1)
stage "per-pass times" "$(limit 40 235)" "$RAW/per_pass.txt" env "${PASS_ENV[@]}" "$BENCH" --bench

# --- PyTorch: AliG and the copy, on CUDA (on the CPU in a dry run).
TORCH_ARGS=(--sizes "$SIZES" --out "$RAW/torch.csv")
[ $DRY_RUN = 1 ] && TORCH_ARGS+=(--device cpu --max-reps 9 --budget 0.3)
stage "PyTorch AliG and copy" "$(limit 50 185)" "$RAW/torch.txt" env PYTHONUNBUFFERED=1 "$PYTHON" \
    scripts/gpu_torch_compare.py "${TORCH_ARGS[@]}"

# --- the work-split sweep.
SWEEP_ENV=(ALIG_BENCH_SPLIT_SWEEP=1 ALIG_BENCH_N="$SWEEP_SIZES" ALIG_BENCH_CSV="$OUT/sweep.csv")
[ $DRY_RUN = 1 ] && SWEEP_ENV+=(ALIG_BENCH_QUICK=1)
stage "work-split sweep" "$(limit 35 150)" "$RAW/sweep.txt" env "${SWEEP_ENV[@]}" "$BENCH" --bench

# --- the Fashion-MNIST study: in its full form (60,000 images, 15 epochs, every grid) on the
# GPU; a small one in a dry run. Its tables and plots land in OUT/fashion.
FASHION_DATA=.data/fashion-mnist
[ -f "$FASHION_DATA/train-images-idx3-ubyte.gz" ] || FASHION_DATA=$FASHION_SOURCE
if [ $DRY_RUN = 1 ]; then
    FASHION_ARGS=(--train-samples 1000 --epochs 1 --alig-grid 0.1 --sgd-grid 0.1 --adam-grid 0.01)
else
    FASHION_ARGS=(--full)
fi
stage "Fashion-MNIST study" "$(limit 120 40)" "$RAW/fashion.txt" "$BIN/examples/train_fashion" \
    "${FASHION_ARGS[@]}" --data "$FASHION_DATA" --out-dir "$OUT/fashion"

# --- the burn adapter's benchmark (its small size only in a dry run).
BURN_ARGS=(--bench)
[ $DRY_RUN = 1 ] && BURN_ARGS+=(small)
stage "burn adapter benchmark" "$(limit 40 5)" "$RAW/burn.txt" "$BIN/burn/optimizer_step" "${BURN_ARGS[@]}"

# --- one table.
HEADER=$WORK/header.txt
{
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $( [ $DRY_RUN = 1 ] && echo 'DRY RUN (sizes and device of a check, not GPU figures)' || echo 'GPU run')"
    [ -n "$GPU_LINE" ] && echo "- GPU (nvidia-smi: name, memory total, free, driver, max SM and memory clocks): $GPU_LINE"
    grep -m 1 '^adapter:' "$RAW/bench.txt" | sed 's/^/- wgpu /'
    grep -m 1 '^backend:' "$RAW/bench.txt" | sed 's/^/- /'
    if [ $DRY_RUN = 0 ] && grep -q '^backend:.*device type: Cpu' "$RAW/bench.txt"; then
        echo "- WARNING: wgpu ran on a CPU driver, not on the GPU: these are not GPU figures"
    fi
    grep -m 1 '^work split' "$RAW/bench.txt" | sed 's/^/- /'
    grep -m 1 '^clock:' "$RAW/bench.txt" | sed 's/^/- /'
    head -n 1 "$RAW/torch.txt" | sed 's/^/- PyTorch side: /'
    sed -n 's/^commit: /- binaries built from commit /p' .gpu-bin/manifest.txt 2>/dev/null
    echo "- host: $(uname -srm), $(nproc) cores; sizes $SIZES, sweep $SWEEP_SIZES"
    for s in "${STATUS[@]}"; do echo "- stage $s"; done
} >"$HEADER"
"$PYTHON" scripts/gpu_table.py --bench "$RAW/bench.csv" --torch "$RAW/torch.csv" --sweep "$OUT/sweep.csv" \
    --header "$HEADER" --tests "$TESTS_TXT" --csv "$OUT/table.csv" --markdown "$OUT/summary.md" ||
    echo "WARNING: the table could not be made"
# The stages the table does not hold, as their programs printed them.
{
    echo
    echo "## Per pass (checked and unchecked kernels)"
    echo
    echo '```'
    sed -n '/^Per pass/,$p' "$RAW/per_pass.txt" 2>/dev/null
    echo '```'
    echo
    echo "## Fashion-MNIST study ($([ $DRY_RUN = 1 ] && echo "1,000 images, 1 epoch" || echo "--full"))"
    echo
    cat "$OUT/fashion/summary.md" 2>/dev/null || echo "(no summary: the study did not finish)"
    echo
    echo "## burn adapter benchmark"
    echo
    echo '```'
    grep -v '^\s*$' "$RAW/burn.txt" 2>/dev/null | tail -n 40
    echo '```'
} >>"$OUT/summary.md"
cp "$HEADER" "$RAW/header.txt"
tar -C "$RAW" -czf "$OUT/raw.tar.gz" . || echo "WARNING: cannot pack the raw outputs"
rm -rf "$WORK"
echo
cat "$OUT/summary.md" 2>/dev/null
echo
echo "written: $(cd "$OUT" && printf '%s ' *)(in $OUT)"
# Let run.log receive the last lines before the command returns.
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null || sleep 1
