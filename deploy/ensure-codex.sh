#!/usr/bin/env bash
# deploy/ensure-codex.sh — installs the pinned OpenAI Codex CLI (npm `@openai/codex`) in
# .dev/codex for the real-Codex test suites, only when that version is not there yet. The
# package ships a static platform binary; it runs offline afterwards: the suites point it at a
# scripted OpenAI Responses model on loopback (tests/src/model_openai/).
#
# Usage: deploy/ensure-codex.sh [--print-bin]
#   --print-bin  print the path of the installed `codex` on success
# Needs node and npm (deploy/ensure-deps.sh installs them). Exit 1 when it cannot install.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The version the suites and docs/agents.md were checked against.
CODEX_VERSION=0.171.0
prefix="$here/../.dev/codex"
bin="$prefix/node_modules/.bin/codex"

installed() { [[ -x $bin ]] && [[ $("$bin" --version 2>/dev/null) == "codex-cli $CODEX_VERSION"* ]]; }

if ! installed; then
  command -v npm >/dev/null 2>&1 || { echo "ensure-codex.sh: npm is missing" >&2; exit 1; }
  mkdir -p "$prefix"
  echo "ensure-codex.sh: installing @openai/codex@$CODEX_VERSION in .dev/codex" >&2
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "@openai/codex@$CODEX_VERSION" >&2
  installed || { echo "ensure-codex.sh: codex $CODEX_VERSION did not install" >&2; exit 1; }
fi
if [[ ${1:-} == --print-bin ]]; then
  (cd "$(dirname "$bin")" && printf '%s/codex\n' "$(pwd)")
fi
