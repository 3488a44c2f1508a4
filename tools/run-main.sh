#!/usr/bin/env bash
# The main job: install what is missing, build the package tarball (with
# the Rust crates vendored into it), install it the way a user does
# (install.packages from source, offline), run the seed example, and knit
# the computational-graphs vignette.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/build-env.sh

out="${FEMTOGRAD_OUT:-$PWD/femtograd-out}"
mkdir -p "$out"
# The tarball carries the crates (see tools/vendor.sh), so the install
# below builds offline; the checkout goes back to using the registry.
trap 'rm -f src/rust/vendor.tar.xz' EXIT
bash tools/vendor.sh
R CMD build --no-build-vignettes --no-manual . >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
rm -f src/rust/vendor.tar.xz
tarball=$(ls -t femtograd_*.tar.gz | head -n 1)
mv "$tarball" "$out/"
echo "tarball: $out/$tarball ($(du -k "$out/$tarball" | cut -f1) KB)"
Rscript -e "install.packages('$out/$tarball', repos = NULL, type = 'source')"

Rscript -e '
library(femtograd)
x <- val(3); y <- val(4)
z <- x^2 + x * y
backward(z)
print(grad(x))
print(grad(y))
'

if [ -f vignettes/computational-graphs.Rmd ]; then
  Rscript -e "rmarkdown::render('vignettes/computational-graphs.Rmd', output_dir = '$out', quiet = TRUE)"
  echo "vignette: $out/computational-graphs.html"
fi
