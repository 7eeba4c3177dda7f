#!/usr/bin/env bash
# deploy/ensure-axe.sh — installs the pinned axe-core (npm `axe-core`) in .dev/axe-core for the
# accessibility suite (tests/tests/web/a11y.rs), only when that version is not there yet. The
# suite injects node_modules/axe-core/axe.min.js into the test browser and checks that its
# package.json names this version.
#
# Usage: deploy/ensure-axe.sh [--print-path]
#   --print-path  print the path of the installed axe.min.js on success
# Needs node and npm (deploy/ensure-deps.sh installs them). Exit 1 when it cannot install.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The version the suite and docs/web.md were checked against (keep in step with
# AXE_VERSION in tests/tests/web/a11y.rs).
AXE_VERSION=4.14.1
prefix="$here/../.dev/axe-core"
pkg="$prefix/node_modules/axe-core"

installed() {
  [[ -f $pkg/axe.min.js && -f $pkg/package.json ]] &&
    [[ $(node -p "require(process.argv[1]).version" "$pkg/package.json" 2>/dev/null) == "$AXE_VERSION" ]]
}

if ! installed; then
  command -v npm >/dev/null 2>&1 || { echo "ensure-axe.sh: npm is missing" >&2; exit 1; }
  mkdir -p "$prefix"
  echo "ensure-axe.sh: installing axe-core@$AXE_VERSION in .dev/axe-core" >&2
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact \
    "axe-core@$AXE_VERSION" >&2
  installed || { echo "ensure-axe.sh: axe-core $AXE_VERSION did not install" >&2; exit 1; }
fi
if [[ ${1:-} == --print-path ]]; then
  (cd "$pkg" && printf '%s/axe.min.js\n' "$(pwd)")
fi
