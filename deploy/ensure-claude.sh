#!/usr/bin/env bash
# deploy/ensure-claude.sh — installs the pinned Claude Code (npm `@anthropic-ai/claude-code`) in
# .dev/claude-code for the real-Claude test suites, only when that version is not there yet.
# It runs offline afterwards: the suites point it at a scripted model on loopback.
#
# Usage: deploy/ensure-claude.sh [--print-bin]
#   --print-bin  print the path of the installed `claude` on success
# Needs node and npm (deploy/ensure-deps.sh installs them). Exit 1 when it cannot install.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The version the suites and docs/claude-code.md were checked against.
CLAUDE_CODE_VERSION=2.1.197
prefix="$here/../.dev/claude-code"
bin="$prefix/node_modules/.bin/claude"

installed() { [[ -x $bin ]] && [[ $("$bin" --version 2>/dev/null) == "$CLAUDE_CODE_VERSION "* ]]; }

if ! installed; then
  command -v npm >/dev/null 2>&1 || { echo "ensure-claude.sh: npm is missing" >&2; exit 1; }
  mkdir -p "$prefix"
  echo "ensure-claude.sh: installing @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION in .dev/claude-code" >&2
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >&2
  installed || { echo "ensure-claude.sh: claude $CLAUDE_CODE_VERSION did not install" >&2; exit 1; }
fi
if [[ ${1:-} == --print-bin ]]; then
  (cd "$(dirname "$bin")" && printf '%s/claude\n' "$(pwd)")
fi
