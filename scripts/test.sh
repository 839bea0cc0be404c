#!/usr/bin/env bash
# Runs every test: builds the solution (warnings are errors), runs all test projects against real Redis,
# PostgreSQL and the whole AppHost, and ends with one line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

dotnet build Artemis.sln -c Debug -nologo -clp:ErrorsOnly
set +e
dotnet test Artemis.sln --no-build -c Debug --blame-hang-timeout 10m \
  --logger "trx" --results-directory "$results" --logger "console;verbosity=normal" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

# Totals from the TRX files: one per test assembly, so an assembly whose host crashed is missing rather than green.
passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [[ -e "$trx" ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  value() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed)))
  skipped=$((skipped + $(value notExecuted)))
done
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1 # the run failed outside any test (build, crash, hang): never report it as green
fi
# The failed tests and their messages again, just above the totals, so the end of a long log says what broke.
if ((failed > 0)); then
  echo "Failed tests:"
  awk '/^ *Failed [^ ]+ \[/ { show = 1; lines = 0 }
       /^ *Stack Trace:/ { show = 0 }
       show && lines < 40 { print; lines++ }' "$results/console.log"
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
