#!/bin/sh
# Stops the install with a clear message when cargo or rustc is missing or
# too old, instead of a cryptic compiler error later.
PATH="$PATH:$HOME/.cargo/bin"
MIN_MAJOR=1
MIN_MINOR=84   # faer 0.24 needs rustc >= 1.84

if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
  echo "------------------------------------------------------------------" >&2
  echo "femtograd needs Rust (cargo and rustc >= $MIN_MAJOR.$MIN_MINOR) to build." >&2
  echo "Install it from https://rustup.rs (or your system's rustc and cargo" >&2
  echo "packages), make sure 'cargo' is on the PATH, and install again." >&2
  echo "------------------------------------------------------------------" >&2
  exit 1
fi

version=$(rustc --version | sed -n 's/^rustc \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p')
major=${version% *}
minor=${version#* }
if [ -z "$version" ] || [ "$major" -lt "$MIN_MAJOR" ] || \
   { [ "$major" -eq "$MIN_MAJOR" ] && [ "$minor" -lt "$MIN_MINOR" ]; }; then
  echo "femtograd needs rustc >= $MIN_MAJOR.$MIN_MINOR; found: $(rustc --version)." >&2
  echo "Update Rust (e.g. 'rustup update') and install again." >&2
  exit 1
fi
