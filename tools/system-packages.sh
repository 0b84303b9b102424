#!/usr/bin/env bash
# The Debian packages this project needs beyond Python: pandoc + XeLaTeX for the PDFs,
# poppler-utils to check them. As root: installs what is missing. Otherwise: prints the
# exact apt-get line and stops.
set -euo pipefail
packages=(pandoc texlive-xetex texlive-latex-recommended texlive-latex-extra
          texlive-fonts-recommended texlive-plain-generic lmodern poppler-utils
          fonts-dejavu-core)
missing=()
for package in "${packages[@]}"; do
    # "install ok installed" only: a removed package may leave "config-files" behind
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) != 0 ]]; then
    echo "Missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends" \
         "${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]}"
# Another program (a desktop's updater) may hold the package lock: wait for it.
wait=(-o DPkg::Lock::Timeout=180)
if fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; then
    echo "waiting for another program's package install to finish (up to 3 min)"
fi
apt-get "${wait[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
