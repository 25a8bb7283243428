#!/usr/bin/env bash
# Installs the Debian packages Iris needs, only those missing.
#   scripts/setup-debian.sh run     libvips (and libjpeg, lcms, which Iris also calls directly) for building and serving;
#                                   WordNet's nouns for text search
#   scripts/setup-debian.sh test    + PostgreSQL, Chromium and its driver, vips tools, and the linters
#   scripts/setup-debian.sh lint    only the linters of `make lint`: shellcheck, ESLint (and python3-venv for ruff)
#   scripts/setup-debian.sh bench   + vips tools (vipsthumbnail is the baseline)
set -euo pipefail
purpose="${1:-run}"
packages=(libvips-dev libjpeg-dev liblcms2-dev pkg-config zlib1g-dev unzip python3-venv wordnet-base)
case "$purpose" in
  run) ;;
  test) packages+=(postgresql chromium chromium-driver libvips-tools python3-venv shellcheck eslint) ;;
  bench) packages+=(libvips-tools python3-venv postgresql) ;;
  lint) packages=(shellcheck eslint python3-venv) ;;
  *) echo "usage: $0 run|test|bench|lint" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
