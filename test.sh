#!/usr/bin/env bash
# Runs every test: unit, integration (real redis-server), end-to-end (real silo processes) and browser tests.
# Each test project writes a TRX file to its own TestResults/ folder. Arguments go to dotnet test.
set -euo pipefail
cd "$(dirname "$0")"
. deploy/prerequisites.sh
ensure_apt_packages redis-server redis-tools chromium liblo-tools
ensure_dotnet

find tests -path '*/TestResults/*.trx' -delete 2>/dev/null || true
dotnet test Cluster.sln --logger trx --logger "console;verbosity=normal" "$@"
