#!/usr/bin/env bash
# Installs what a fresh Debian machine needs to build, demo and test sso-gateway:
# cmake (Pingora's zlib-ng), Node.js + npm (the local OpenID provider and demo origin),
# the pinned npm packages, Debian's chromium + chromium-driver (browser journey),
# redis-server (the Redis store tests start their own when none answers on :6379) and
# Debian's prometheus package for promtool (the metrics are checked with it).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v cc >/dev/null || need+=(build-essential)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v curl >/dev/null || need+=(curl)
command -v redis-server >/dev/null || need+=(redis-server)
command -v promtool >/dev/null || need+=(prometheus)
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust with rustup (https://rustup.rs) and rerun" >&2
  exit 1
fi

if [ ! -d deploy/demo/node_modules/oidc-provider ] || [ deploy/demo/package-lock.json -nt deploy/demo/node_modules ]; then
  echo "setup: installing the demo's npm packages"
  (cd deploy/demo && npm ci --no-audit --no-fund --loglevel=error)
fi
