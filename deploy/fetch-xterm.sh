#!/usr/bin/env bash
# deploy/fetch-xterm.sh — fetches the pinned xterm.js (npm `@xterm/xterm`) from the npm registry
# into api/assets/vendor/xterm/: its ES module build (lib/xterm.mjs), its stylesheet
# (css/xterm.css) and its licence, byte for byte as published, and writes PIN (the version, the
# tarball's registry integrity and each file's sha256). The files are committed; the API embeds
# them (api/src/web/assets.rs) and the chat page's Terminal panel loads them (docs/web.md,
# "Terminal"). tests/tests/web/terminal.rs checks the committed files against PIN and this
# version. Never from a CDN.
#
# Usage: deploy/fetch-xterm.sh          fetch and (re)write the vendored files
#        deploy/fetch-xterm.sh --check  fetch into a temporary directory and compare: exit 1 when
#                                       the committed files differ from the published ones
# Needs npm (deploy/ensure-deps.sh installs it) and sha256sum.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Keep in step with XTERM_VERSION in tests/tests/web/terminal.rs.
XTERM_VERSION=6.0.0
# The registry's dist.integrity of that version (`npm view @xterm/xterm@6.0.0 dist.integrity`).
XTERM_INTEGRITY='sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg=='
dest="$here/../api/assets/vendor/xterm"
check=false
[[ ${1:-} == --check ]] && check=true

command -v npm >/dev/null 2>&1 || { echo "fetch-xterm.sh: npm is missing" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# npm pack downloads the tarball from the configured registry and checks it against the
# registry's integrity; we check it against the pinned one too.
(cd "$work" && npm pack --silent --json "@xterm/xterm@$XTERM_VERSION" >pack.json)
tarball=$(cd "$work" && node -p "require('./pack.json')[0].filename")
integrity=$(cd "$work" && node -p "require('./pack.json')[0].integrity")
if [[ $integrity != "$XTERM_INTEGRITY" ]]; then
  echo "fetch-xterm.sh: @xterm/xterm@$XTERM_VERSION has integrity $integrity, not the pinned one" >&2
  exit 1
fi
tar -xzf "$work/$tarball" -C "$work"
version=$(node -p "require(process.argv[1]).version" "$work/package/package.json")
[[ $version == "$XTERM_VERSION" ]] || { echo "fetch-xterm.sh: got version $version" >&2; exit 1; }

out="$work/out"
mkdir -p "$out"
cp "$work/package/lib/xterm.mjs" "$out/xterm.mjs"
cp "$work/package/css/xterm.css" "$out/xterm.css"
cp "$work/package/LICENSE" "$out/LICENSE"
{
  echo "# @xterm/xterm as published on the npm registry; written by deploy/fetch-xterm.sh."
  echo "version $XTERM_VERSION"
  echo "integrity $XTERM_INTEGRITY"
  (cd "$out" && sha256sum xterm.mjs xterm.css LICENSE | sed 's/^/sha256 /')
} >"$out/PIN"

if $check; then
  for f in xterm.mjs xterm.css LICENSE PIN; do
    cmp -s "$out/$f" "$dest/$f" || { echo "fetch-xterm.sh: $f differs from @xterm/xterm@$XTERM_VERSION" >&2; exit 1; }
  done
  echo "fetch-xterm.sh: api/assets/vendor/xterm is @xterm/xterm@$XTERM_VERSION" >&2
  exit 0
fi
mkdir -p "$dest"
cp "$out/xterm.mjs" "$out/xterm.css" "$out/LICENSE" "$out/PIN" "$dest/"
echo "fetch-xterm.sh: wrote @xterm/xterm@$XTERM_VERSION to api/assets/vendor/xterm" >&2
