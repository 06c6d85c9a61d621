#!/usr/bin/env bash
# Rebuilds the two data files of this folder: the first COUNT (default 256) images and labels
# of Fashion-MNIST's test set (t10k), cut from the full release's gzipped IDX files in SOURCE
# (default: where Debian's dataset-fashion-mnist package installs them) and written as gzipped
# IDX files whose header gives COUNT samples.
#
#     data/fashion-mnist/make_subset.sh [SOURCE [COUNT]]
set -euo pipefail
source_dir="${1:-/usr/share/datasets/fashion-mnist}"
count="${2:-256}"
out_dir="$(dirname "$0")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# A 32-bit big-endian integer, as IDX headers hold them.
be32() {
    local shift
    for shift in 24 16 8 0; do
        # shellcheck disable=SC2059
        printf "\\$(printf '%03o' $((($1 >> shift) & 255)))"
    done
}

# subset NAME MAGIC SAMPLE_DIMS...: the IDX header (magic, count, sample dimensions), then the
# first COUNT samples of the source's payload.
subset() {
    local name=$1 magic=$2
    shift 2
    local source="$source_dir/t10k-$name.gz" out="$out_dir/t10k-first$count-$name.gz"
    local sample_len=1 dim
    for dim in "$@"; do sample_len=$((sample_len * dim)); done
    local header_len=$((8 + 4 * $#))
    if [ ! -e "$source" ]; then
        echo "$source is missing: apt-get install dataset-fashion-mnist" >&2
        exit 1
    fi
    zcat "$source" >"$scratch/$name"
    local source_len
    source_len=$(wc -c <"$scratch/$name")
    if [ "$source_len" -lt $((header_len + count * sample_len)) ]; then
        echo "$source: $source_len bytes, fewer than $count samples" >&2
        exit 1
    fi
    {
        be32 "$magic"
        be32 "$count"
        for dim in "$@"; do be32 "$dim"; done
        head -c $((header_len + count * sample_len)) "$scratch/$name" | tail -c +$((header_len + 1))
    } | gzip -9 -n >"$out"
    echo "$out: $(wc -c <"$out") bytes, $((header_len + count * sample_len)) uncompressed"
}

subset images-idx3-ubyte $((0x803)) 28 28
subset labels-idx1-ubyte $((0x801))
