#!/usr/bin/env bash
# Runs every test: the engine's cargo tests, then R CMD build and
# R CMD check (which installs the package from the tarball, runs testthat
# and builds the vignettes). Fails on any test failure and on any ERROR or
# WARNING from the check.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/build-env.sh

echo "== cargo test (engine)"
# --release into the same target dir as the R build: faer is
# compiled once for both.
cargo test --locked --release -p femtograd-engine --target-dir "$FEMTOGRAD_TARGET_DIR"

echo "== R CMD build (with the crates vendored, so the check installs offline)"
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f src/rust/vendor.tar.xz' EXIT
bash tools/vendor.sh
R CMD build --no-manual . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
rm -f src/rust/vendor.tar.xz
tarball=$(ls femtograd_*.tar.gz | tail -n 1)
mv "$tarball" "$work/"

echo "== R CMD check --no-manual $tarball"
(cd "$work" && _R_CHECK_FORCE_SUGGESTS_=true R CMD check --no-manual "$tarball") | tee "$work/check.log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ] || grep -qE "^Status: .*(ERROR|WARNING)" "$work/check.log"; then
  testlog="$work/femtograd.Rcheck/tests/testthat.Rout.fail"
  [ -f "$testlog" ] && tail -n 60 "$testlog"
  echo "R CMD check failed" >&2
  exit 1
fi
# The testthat summary, so the runner's own count is in the log.
grep -hE "^\[ FAIL [0-9]+ \| WARN [0-9]+ \| SKIP [0-9]+ \| PASS [0-9]+ \]" \
  "$work/femtograd.Rcheck/tests/testthat.Rout" || true
echo "all tests passed"
