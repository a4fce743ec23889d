#!/usr/bin/env bash
# Runs the cluster on this machine: a silo with its embedded Redis, data in ./data, on http://localhost:5000.
# Arguments go to the silo, e.g. ./run.sh --urls http://0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")"
. deploy/prerequisites.sh
ensure_apt_packages redis-server
ensure_dotnet

echo "Building the silo …"
dotnet build Silo/Silo.csproj -c Release -nologo -clp:ErrorsOnly -v quiet
exec dotnet Silo/bin/Release/net10.0/Cluster.Silo.dll "$@"
