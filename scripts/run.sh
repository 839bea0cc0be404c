#!/usr/bin/env bash
# Runs Artemis: the AppHost starts Redis, PostgreSQL, the Agents service and the web UI, and prints the Aspire
# dashboard's login URL. Extra arguments go to the AppHost. Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec dotnet run --project Artemis.AppHost --launch-profile http -- "$@"
