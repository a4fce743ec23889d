# Sourced by run.sh, test.sh, .ci/run and deploy/run-silos.sh: installs what a fresh Debian machine lacks,
# and nothing that is already there. Uses sudo only when not root.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "This needs root: $*" >&2; return 1
  fi
}

_apt_updated=
ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing: ${missing[*]}. Install them with your package manager." >&2
    return 1
  fi
  echo "Installing ${missing[*]} …"
  if [ -z "$_apt_updated" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# The .NET SDK named in global.json (10.0): from PATH, else ~/.dotnet, else installed there by Microsoft's script.
ensure_dotnet() {
  command -v dotnet >/dev/null 2>&1 && return 0
  if [ ! -x "$HOME/.dotnet/dotnet" ]; then
    echo "Installing the .NET 10 SDK into ~/.dotnet …"
    ensure_apt_packages curl ca-certificates
    curl -fsSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh
    bash /tmp/dotnet-install.sh --channel 10.0 --install-dir "$HOME/.dotnet"
  fi
  export DOTNET_ROOT="$HOME/.dotnet"
  export PATH="$HOME/.dotnet:$PATH"
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
