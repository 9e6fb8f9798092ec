#!/usr/bin/env bash
# Installs every Debian package rollmat needs to build, test and run.
# Idempotent: does nothing when all are present. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang
  libusb-1.0-0-dev libfftw3-dev libhdf5-dev hdf5-tools zlib1g-dev
  libjansson-dev libcairo2-dev libdeflate-dev
  libcriterion-dev umockdev libumockdev-dev usbutils
  netcdf-bin python3 python3-h5py python3-numpy python3-scipy python3-xarray python3-netcdf4
  poppler-utils time
  libmicrohttpd-dev chromium nodejs tmux curl
  libsqlite3-dev sqlite3 libgsl-dev r-base-core r-cran-psych
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: Debian's nodejs comes without it, NodeSource's nodejs bundles it (and
# conflicts with Debian's npm package): ask for the package only when missing.
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The live page's browser test (tests/live_browser.sh): playwright-core from
# npm, pinned by tests/browser/package-lock.json; it drives Debian's chromium
# and must never download a browser of its own.
npm_packages() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
  [ -f "$dir/package-lock.json" ] || return 0
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null) \
    || { echo "rollmat: npm ci in tests/browser failed" >&2; exit 1; }
}
if [ ${#missing[@]} -eq 0 ]; then
  echo "rollmat: all ${#packages[@]} packages already installed"
  npm_packages
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "rollmat: need root to install: ${missing[*]}" >&2; exit 1; fi
fi
echo "rollmat: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || { echo "rollmat: apt-get update failed" >&2; exit 1; }
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || echo "rollmat: package '$p' is not available from the configured archives" >&2
  done
  echo "rollmat: could not install: ${missing[*]}" >&2
  exit 1
fi

npm_packages
