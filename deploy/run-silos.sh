#!/usr/bin/env bash
# Usage: deploy/run-silos.sh [N]   (default 2)
# Starts one redis-server (or uses REDIS=host:port) and N silos on consecutive ports from BASE_PORT (5000)
# on this machine, all sharing one bootstrap admin key. Ctrl+C (or SIGTERM) stops everything it started.
# Files go to DATA_DIR (default ./data/run-silos): redis/, silo-<port>/ (logs) and silo-<port>.out (console).
set -euo pipefail
count="${1:-2}"
base_port="${BASE_PORT:-5000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$(mkdir -p "${DATA_DIR:-$root/data/run-silos}" && cd "${DATA_DIR:-$root/data/run-silos}" && pwd)"
. "$root/deploy/prerequisites.sh"
ensure_apt_packages redis-server redis-tools curl
ensure_dotnet

echo "Building the silo …"
dotnet build "$root/Silo/Silo.csproj" -c Release -nologo -clp:ErrorsOnly -v quiet
dll="$root/Silo/bin/Release/net10.0/Cluster.Silo.dll"

pids=()
stop_all() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
}
trap stop_all INT TERM EXIT

if [ -z "${REDIS:-}" ]; then
  redis_port="${REDIS_PORT:-6390}"
  mkdir -p "$data/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$data/redis" --appendonly yes --save "" \
    --daemonize no --logfile "$data/redis/redis-server.log" &
  pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$redis_port" ping >/dev/null || { echo "redis-server did not start; see $data/redis/redis-server.log" >&2; exit 1; }
  REDIS="127.0.0.1:$redis_port"
fi

key_file="$data/bootstrap-api-key"
if [ -z "${Auth__BootstrapApiKey:-}" ]; then
  if [ ! -s "$key_file" ]; then
    (umask 077; echo "ck_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')" > "$key_file")
  fi
  Auth__BootstrapApiKey="$(cat "$key_file")"
fi

for i in $(seq 0 $((count - 1))); do
  port=$((base_port + i))
  Redis__ConnectionString="$REDIS" Cluster__DataDir="$data/silo-$port" Auth__BootstrapApiKey="$Auth__BootstrapApiKey" \
    dotnet "$dll" --urls "http://127.0.0.1:$port" >"$data/silo-$port.out" 2>&1 &
  pids+=($!)
done

for i in $(seq 0 $((count - 1))); do
  port=$((base_port + i))
  until curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null; do
    if ! kill -0 "${pids[$((i + ${#pids[@]} - count))]}" 2>/dev/null; then
      echo "The silo on port $port stopped; its output:" >&2; cat "$data/silo-$port.out" >&2; exit 1
    fi
    sleep 0.2
  done
  echo "silo $((i + 1)) ready: http://127.0.0.1:$port/"
done
echo "Redis: $REDIS · admin API key in $key_file (or your Auth__BootstrapApiKey) · Ctrl+C stops all"
wait
