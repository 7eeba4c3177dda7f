#!/usr/bin/env bash
# deploy/test.sh — runs every test of the workspace against real PostgreSQL, tmux, sshd and
# Chromium. Extra arguments go to the test runner (e.g. `deploy/test.sh -p paliadin-api`, or a
# test name filter).
#
# Database: $PALIADIN_TEST_ADMIN_URL when set; else postgres://postgres@127.0.0.1:5432/postgres
# when a server there trusts that user; else a private cluster in .dev/pg-test (deploy/pg.sh),
# started for the run and stopped after it (PALIADIN_KEEP_PG=1 leaves it running for the next
# run). The URL is exported as PALIADIN_TEST_ADMIN_URL and DATABASE_URL: tests create their own
# databases through it. target/debug is put first on PATH so tests find the built binaries.
# Runner: cargo-nextest when installed (.config/nextest.toml; profile `ci` when CI=true), else
# cargo test with 4 test threads. The exit code is the runner's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
export PATH="$root/target/debug:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [[ -t 2 ]]; then
  say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else
  say() { printf '==> %s\n' "$*" >&2; }
fi

say "checking system packages"
deploy/ensure-deps.sh --browser

# The real Claude Code suites run the pinned claude; where it cannot be installed they skip
# with a loud message naming the reason (and only then).
say "checking the pinned Claude Code (deploy/ensure-claude.sh)"
if ! claude_log=$(deploy/ensure-claude.sh 2>&1); then
  printf '%s\n' "$claude_log" >&2
  export PALIADIN_CLAUDE_SKIP="deploy/ensure-claude.sh failed: $(printf '%s' "$claude_log" | tail -n 1)"
  say "WARNING: the real Claude Code suites will be SKIPPED: $PALIADIN_CLAUDE_SKIP"
fi

# Likewise the real Codex CLI suites (agent_codex) and PALIADIN_CODEX_SKIP.
say "checking the pinned Codex CLI (deploy/ensure-codex.sh)"
if ! codex_log=$(deploy/ensure-codex.sh 2>&1); then
  printf '%s\n' "$codex_log" >&2
  export PALIADIN_CODEX_SKIP="deploy/ensure-codex.sh failed: $(printf '%s' "$codex_log" | tail -n 1)"
  say "WARNING: the real Codex CLI suites will be SKIPPED: $PALIADIN_CODEX_SKIP"
fi

# The accessibility suite (web_a11y) injects the pinned axe-core; without it that suite fails
# and says how to install it.
say "checking the pinned axe-core (deploy/ensure-axe.sh)"
deploy/ensure-axe.sh || say "WARNING: axe-core is missing: the web::a11y suite will FAIL"

deploy/ensure-cargo-deb.sh || say "WARNING: no cargo-deb: the package suites will FAIL in CI, skip elsewhere"
say "building the binaries (cargo build --bins)"
cargo build --bins

# shellcheck source=deploy/pg.sh
. deploy/pg.sh
pg_url test || { echo "test.sh: no PostgreSQL for the tests" >&2; exit 1; }
if [[ $PG_STARTED -eq 1 && ${PALIADIN_KEEP_PG:-0} != 1 ]]; then
  trap 'say "stopping the private test cluster"; pg_stop test || true' EXIT
fi
export PALIADIN_TEST_ADMIN_URL=$PG_URL
export DATABASE_URL=$PG_URL
say "tests use $PALIADIN_TEST_ADMIN_URL"

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --no-fail-fast)
  if [[ ${CI:-} == true ]]; then runner+=(--profile ci); fi
else
  say "cargo-nextest not found: using cargo test"
  export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
  runner=(cargo test --workspace --no-fail-fast)
fi
say "${runner[*]} $*"
rc=0
"${runner[@]}" "$@" || rc=$?
exit "$rc"
