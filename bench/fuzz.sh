#!/usr/bin/env bash
# Runs every cargo-fuzz target of crates/sesame/fuzz for a fixed time and prints, per
# target, the executions, the corpus size and the crashes found. Not run in CI (it needs a
# nightly toolchain and minutes); the same parsers run as property tests in CI
# (crates/sesame/tests/parsers_prop.rs).
#
#   bench/fuzz.sh            # 60 s per target
#   bench/fuzz.sh 300        # 300 s per target
#   bench/fuzz.sh 30 jwt netrc
#
# Needs: `rustup toolchain install nightly` and `cargo install cargo-fuzz`.
# A crash leaves its input in crates/sesame/fuzz/artifacts/TARGET/; turn it into a
# regression test (a case in tests/parsers_prop.rs or a unit test of the parser) and keep
# the input as a seed in crates/sesame/fuzz/seeds/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../crates/sesame/fuzz"

secs="${1:-60}"
shift || true
all=(token_response uma_response jwks discovery webfinger jwt www_authenticate netrc config_toml
     summarize retry_after http_cache_entry loopback_callback)
targets=("${@:-${all[@]}}")
if [ $# -eq 0 ]; then targets=("${all[@]}"); fi

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh: needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: needs cargo-fuzz (cargo install cargo-fuzz)" >&2
  exit 2
fi

# The library is #![forbid(unsafe_code)]: the sanitizer adds little and costs much, so
# fuzz without one (panics, overflows, hangs and out-of-memory are still caught).
san=(--sanitizer none)
# The HTTP cache seed is made by the library itself (a well-formed cache file).
mkdir -p seeds/http_cache_entry
SESAME_WRITE_CACHE_SEED="$PWD/seeds/http_cache_entry/sample" \
  cargo test --quiet --manifest-path ../Cargo.toml --test parsers_prop the_sample_cache_entry_is_accepted >/dev/null
cargo +nightly fuzz build "${san[@]}" >/dev/null
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"

log_dir="$(mktemp -d)"
printf '%-20s %14s %10s %8s %8s\n' target executions exec/s corpus crashes
total_execs=0
total_crashes=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  set +e
  # The binaries built above, run directly: `cargo fuzz run` would rebuild first whenever
  # the sources changed in between.
  "target/$triple/release/$t" -artifact_prefix="artifacts/$t/" \
    -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    "corpus/$t" "seeds/$t" >"$log_dir/$t.log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log_dir/$t.log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log_dir/$t.log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(find "corpus/$t" -type f | wc -l)
  after=$(find "artifacts/$t" -type f | wc -l)
  crashes=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes="rc=$rc"; fi
  printf '%-20s %14s %10s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "$crashes"
  total_execs=$((total_execs + ${execs:-0}))
  if [ "$crashes" != 0 ]; then
    total_crashes=$((total_crashes + 1))
    echo "  log: $log_dir/$t.log; inputs: crates/sesame/fuzz/artifacts/$t/" >&2
  fi
done
echo "total executions: $total_execs; targets with crashes: $total_crashes"
[ "$total_crashes" -eq 0 ]
