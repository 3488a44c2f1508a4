#!/usr/bin/env bash
# Installs what femtograd needs to build, test and knit, from Debian's
# packages, and only what is missing (cheap when everything is there).
# Rust (cargo, rustc) is expected on the machine already.
set -euo pipefail

debian_packages=(r-base-dev r-cran-testthat r-cran-numderiv r-cran-knitr
                 r-cran-rmarkdown pandoc r-cran-roxygen2 r-cran-mass r-cran-survival r-cran-lme4
                 r-cran-pscl r-cran-parallelly r-cran-emdbook r-cran-bbmle r-cran-nlme r-cran-glmmtmb xz-utils)
# Peers for the benchmarks under bench/, installed only when asked.
if [ "${FEMTOGRAD_BENCH_DEPS:-0}" = 1 ]; then
  debian_packages+=(r-cran-tmb r-cran-bench)
fi

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "install-deps: cargo is not on the PATH; install Rust first" >&2; exit 1; }
