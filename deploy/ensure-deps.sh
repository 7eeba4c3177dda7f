#!/usr/bin/env bash
# deploy/ensure-deps.sh — installs the system packages Paliadin and its tests need, only those
# that are missing. Idempotent; safe to run on every start.
#
# Usage: deploy/ensure-deps.sh [--browser] [--check]
#   --browser  also what only the test suites need: Chromium and chromedriver (browser suites),
#              Node.js and npm (deploy/ensure-claude.sh installs Claude Code with npm),
#              systemd (systemd-analyze verifies the units), dpkg-dev (cargo deb's
#              dependency detection), systemd-container and debootstrap (the suite that boots
#              a Debian container under systemd-nspawn); cargo-deb itself comes from crates.io
#              (deploy/ensure-cargo-deb.sh)
#   --check    install nothing; list what is missing and exit 1 if anything is
#
# Debian/Ubuntu (apt-get). As root it installs; otherwise it prints the apt-get command to run
# and exits 1. It never starts system services (a policy-rc.d blocks them during the install):
# the tests start their own sshd on loopback and the scripts their own PostgreSQL.
# The Rust toolchain is a prerequisite (https://rustup.rs); its absence is reported (exit 3 when
# it is the only thing missing), not fixed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

browser=0
check_only=0
for arg in "$@"; do
  case $arg in
    --browser) browser=1 ;;
    --check) check_only=1 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ensure-deps.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

have() { command -v "$1" >/dev/null 2>&1; }
# shellcheck source=deploy/pg.sh
have_pg_server() ( . "$here/pg.sh" && pg_bindir >/dev/null )
have_browser() { have chromium || have chromium-browser || have google-chrome; }
# Headless Chromium renders text only with some font installed.
have_font() { have fc-list && [[ -n $(fc-list 2>/dev/null | head -n 1) ]]; }

missing=() # apt package names
need() {   # need PACKAGE CHECK-COMMAND...: adds PACKAGE when the check fails
  local pkg=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$pkg")
}
find_missing() {
  missing=()
  need tmux have tmux
  need openssh-server test -x /usr/sbin/sshd
  need openssh-client have ssh-keygen
  need curl have curl
  need ca-certificates test -s /etc/ssl/certs/ca-certificates.crt
  need python3 have python3
  need jq have jq
  need procps have ps
  need sudo have sudo
  need gcc have cc
  need libc6-dev test -e /usr/include/stdio.h
  need postgresql have_pg_server
  if [[ $browser -eq 1 ]]; then
    need chromium have_browser
    need chromium-driver have chromedriver
    need fonts-liberation have_font
    need nodejs have node
    need npm have npm
    need systemd have systemd-analyze
    need dpkg-dev have dpkg-shlibdeps
    need systemd-container have systemd-nspawn
    need debootstrap test -x /usr/sbin/debootstrap
  fi
}
find_missing

rust_missing=0
if ! have cargo && [[ ! -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then rust_missing=1; fi
rust_hint() {
  if [[ $rust_missing -eq 1 ]]; then
    echo "ensure-deps.sh: no Rust toolchain found. Install it with:" >&2
    echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt" >&2
    return 3
  fi
}

# sshd refuses to start as root without its privilege separation directory, which only the
# (blocked) service start would create.
sshd_dir() {
  if [[ $EUID -eq 0 && -x /usr/sbin/sshd && ! -d /run/sshd ]]; then
    mkdir -m 0755 /run/sshd
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  sshd_dir
  rust_hint
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $check_only -eq 1 ]]; then
  echo "ensure-deps.sh: missing: ${missing[*]}" >&2
  rust_hint || true
  exit 1
fi
if ! have apt-get; then
  echo "ensure-deps.sh: missing packages: ${missing[*]}" >&2
  echo "ensure-deps.sh: no apt-get here; install their equivalents with your package manager." >&2
  exit 1
fi
if [[ $EUID -ne 0 ]]; then
  echo "ensure-deps.sh: missing packages: ${missing[*]}" >&2
  echo "ensure-deps.sh: run as root, or install them first:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi

echo "ensure-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting services (sshd, the distribution's PostgreSQL cluster).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086 # $cmd is word-split on purpose
$cmd -qq </dev/null

# Everything asked for must be there now.
hash -r
find_missing
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "ensure-deps.sh: still missing after install: ${missing[*]}" >&2
  exit 1
fi
sshd_dir
rust_hint
