#!/usr/bin/env bash
# The main job: install what is missing, build the package tarball, install
# it the way a user does (install.packages from source), run the seed
# example, and knit the computational-graphs vignette.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/build-env.sh

out="${FEMTOGRAD_OUT:-$PWD/femtograd-out}"
mkdir -p "$out"
R CMD build --no-build-vignettes --no-manual . >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
tarball=$(ls -t femtograd_*.tar.gz | head -n 1)
mv "$tarball" "$out/"
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
