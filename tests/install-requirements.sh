#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages listed in the given files (one a
# line; `#` starts a comment) that are not installed yet, and says which. Used by
# tests/run.sh and by the lab demo, so a fresh machine gets the same packages either
# way. Needs root.
set -euo pipefail

missing=()
while read -r package; do
  package=${package%%#*}
  package=${package//[[:space:]]/}
  [ -n "$package" ] || continue
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done < <(cat "$@")
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
