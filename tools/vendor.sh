#!/usr/bin/env bash
# Vendors the Rust crates femtograd builds with into src/rust/vendor.tar.xz,
# for the source tarball: run it before `R CMD build`, and the package then
# installs with no network and an empty cargo home (src/Makevars builds
# with --offline from the vendored crates whenever that file is present).
# tools/run-main.sh and tools/run-tests.sh run it, and delete the file once
# the tarball is built: in a checkout, installs use the registry as usual.
#
# The crates are exactly those of the committed Cargo.lock (--locked), for
# every platform. Their tests, benches and examples, which building a
# dependency never compiles, are left out; each crate's checksum file then
# lists no files, and cargo checks the crate against the checksum of its
# package recorded in Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

out=src/rust/vendor.tar.xz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo vendor --locked --versioned-dirs --quiet "$work/vendor" >/dev/null

for crate in "$work"/vendor/*/; do
  rm -rf "${crate}tests" "${crate}benches" "${crate}examples"
  package=$(sed -n 's/.*"package":"\([0-9a-f]*\)".*/\1/p' "${crate}.cargo-checksum.json")
  if [ -z "$package" ]; then
    echo "vendor: no package checksum for $(basename "$crate")" >&2
    exit 1
  fi
  printf '{"files":{},"package":"%s"}' "$package" >"${crate}.cargo-checksum.json"
done

# The same crates give the same archive: sorted names, no dates or owners.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C "$work" vendor |
  xz -9 -T1 >"$out.partial"
mv "$out.partial" "$out"
echo "vendor: $out ($(du -k "$out" | cut -f1) KB, $(ls "$work/vendor" | wc -l) crates)"
