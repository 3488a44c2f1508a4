# Sourced by run-main.sh and run-tests.sh: installs what is missing and sets
# up the shared cargo target dir for the builds that follow.

bash tools/install-deps.sh

# Reuse compiled Rust dependencies across installs (see src/Makevars).
export FEMTOGRAD_TARGET_DIR="${FEMTOGRAD_TARGET_DIR:-$HOME/.cache/femtograd/target}"
mkdir -p "$FEMTOGRAD_TARGET_DIR"
# Cargo records this workspace's sources by relative path and judges them
# by modification time, so a build from another checkout in the shared
# target dir could pass for this one. Sources newer than any build there
# make cargo rebuild the two femtograd crates (dependencies stay cached).
find src/engine src/rust -name '*.rs' -exec touch {} +
