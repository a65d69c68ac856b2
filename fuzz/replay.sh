#!/usr/bin/env bash
# Replays every fuzz target's committed seed corpus (fuzz/seeds/TARGET/*)
# once, with the sanitizers on: each input runs exactly once, nothing is
# mutated or written, so the result is deterministic and takes seconds once
# built. An input a fuzzing run crashes on belongs in the target's seeds
# (and, as a unit test, beside the code it broke), so it stays fixed.
#
# Installs what it needs: a C++ compiler (libFuzzer), the nightly toolchain
# (the sanitizer flags need it) and cargo-fuzz.
#   bash fuzz/replay.sh              # every target
#   bash fuzz/replay.sh mutf7 dates  # some
set -euo pipefail
cd "$(dirname "$0")"

# libfuzzer-sys compiles libFuzzer itself, which is C++.
if ! command -v c++ >/dev/null; then
    as_root=()
    [[ $(id -u) -eq 0 ]] || as_root=(sudo -n)
    "${as_root[@]}" apt-get update -qq || echo "WARN: apt-get update reported errors; trying the install anyway" >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if (( ${#targets[@]} == 0 )); then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
# One build for all targets (debug assertions on, as in the fuzzing runs).
cargo +nightly fuzz build -O
for target in "${targets[@]}"; do
    seeds=(seeds/"$target"/*)
    if [[ ! -e ${seeds[0]} ]]; then
        echo "fuzz target $target has no seeds under fuzz/seeds/$target" >&2
        exit 1
    fi
    # Given files rather than a directory, libFuzzer runs each once and exits.
    cargo +nightly fuzz run -O "$target" "${seeds[@]}" -- -rss_limit_mb=512 -timeout=10 >"target/replay-$target.log" 2>&1 || {
        cat "target/replay-$target.log" >&2
        echo "fuzz target $target failed on its seeds" >&2
        exit 1
    }
    echo "fuzz target $target: ${#seeds[@]} seeds replayed"
done
