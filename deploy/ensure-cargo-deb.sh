#!/usr/bin/env bash
# deploy/ensure-cargo-deb.sh — installs the pinned cargo-deb from crates.io when `cargo deb` is
# missing, the same way .ci/run does, so that `deploy/test.sh` on a fresh clone can build the
# Debian packages its package suites test (ops_packages, ops::installed, ops::upgrade*,
# ops::systemd_boot). Idempotent: nothing happens when `cargo deb --version` works. Compiling it
# takes about 2 minutes on two cores, once (it lands in ${CARGO_HOME:-~/.cargo}/bin).
set -euo pipefail
version=3.8.0
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if cargo deb --version >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-cargo-deb.sh: installing cargo-deb $version (cargo install --locked)" >&2
cargo install cargo-deb --version "$version" --locked
