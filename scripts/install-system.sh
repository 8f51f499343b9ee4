#!/usr/bin/env bash
# Install the Debian packages gridmap needs; quick when they are already there. Works as root or with sudo.
set -euo pipefail
# poppler-utils and libzbar0: the tests render the 网格公示牌 PDF (pdftoppm, pdftotext) and decode its QR (pyzbar)
packages=(postgresql-15 postgresql-15-postgis-3 chromium fonts-noto-cjk poppler-utils libzbar0 gdal-bin qgis python3-qgis)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# gdal-bin (ogrinfo) and qgis + python3-qgis (QGIS headless, system python3) test the OGC API as real clients.
# npm fetches the pinned browser libraries; any npm will do (Node.js from Debian or from nodejs.org).
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
