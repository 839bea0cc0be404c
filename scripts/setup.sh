#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for Artemis: the servers the AppHost runs as local processes, the
# sandbox, the browser and audio tools the tests use, and the repository's dotnet tools (the Aspire CLI).
# Idempotent: a machine that has everything is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server postgresql bubblewrap chromium espeak-ng sox)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is required (https://dot.net)" >&2; exit 1; }
dotnet tool restore >/dev/null
