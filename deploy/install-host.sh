#!/bin/sh
# Installs Paliadin's host side on THIS machine, a tmux host that workers reach over SSH
# (docs/hosts.md): the host agent `paliadin-shim`, the demo agent, the Claude Code skill for
# the account the agents run as, and (with --worker-key) the forced-command line in that
# account's ~/.ssh/authorized_keys. Idempotent: running it again updates what it installed.
#
# Run it on the host, from a copy of the repository's deploy/ directory, next to built
# binaries (target/release or target/debug of a checkout, or --bin-dir). As root it can
# install for another account (--user); otherwise it installs for the current one.
set -eu

usage() {
    cat <<'USAGE'
Usage: install-host.sh [options]

  --prefix DIR        install binaries in DIR/bin (default /usr/local; ~/.local as non-root)
  --bin-dir DIR       where the built paliadin-shim, paliadin-demo-agent and paliadin-hook are
                      (default: target/release, else target/debug, of this checkout)
  --user NAME         the account agents run as (default: the current one; another needs root)
  --spool-dir DIR     the spool every connection uses (default ~NAME/.local/state/paliadin/spool)
  --workdir DIR       the agents' working directory (its Claude trust dialog is pre-accepted)
  --worker-key FILE   a worker's public key: add its restricted forced-command line
  --from PATTERNS     restrict that key to these client addresses (authorized_keys `from=`)
  --no-skill          do not install the Claude Code skill and hooks
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
prefix="" bindir="" user="" spool="" workdir="" key="" from="" skill=1
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --prefix | --bin-dir | --user | --spool-dir | --workdir | --worker-key | --from)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            case "$1" in
                --prefix) prefix=$2 ;; --bin-dir) bindir=$2 ;; --user) user=$2 ;;
                --spool-dir) spool=$2 ;; --workdir) workdir=$2 ;; --worker-key) key=$2 ;;
                --from) from=$2 ;;
            esac
            shift 2 ;;
        --no-skill) skill=0; shift ;;
        *) echo "install-host.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done

# The key file must hold exactly one key line: a second one would land in authorized_keys
# without `restrict` and the forced command. Checked before anything is installed.
if [ -n "$key" ]; then
    lines=$(grep -c . "$key" 2>/dev/null || true)
    if [ "$lines" != 1 ] || grep -q "$(printf '\r')" "$key"; then
        echo "install-host.sh: $key must hold exactly one public key line (found ${lines:-0})" >&2
        exit 1
    fi
    pub=$(grep . "$key")
    case "$pub" in ssh-* | ecdsa-* | sk-*) ;; *) echo "install-host.sh: $key is not a public key" >&2; exit 1 ;; esac
fi

me=$(id -un)
user=${user:-$me}
if [ "$user" != "$me" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install-host.sh: installing for $user needs root" >&2; exit 1
fi
home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || { echo "install-host.sh: no account $user" >&2; exit 1; }
group=$(id -gn "$user")
if [ -z "$prefix" ]; then
    if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix=$HOME/.local; fi
fi
spool=${spool:-$home/.local/state/paliadin/spool}
for p in "$prefix" "$spool"; do
    # Both end up inside the quoted forced command: keep them plain.
    case "$p" in /*) ;; *) echo "install-host.sh: $p must be an absolute path" >&2; exit 1 ;; esac
    case "$p" in *[!A-Za-z0-9_./-]*) echo "install-host.sh: $p must match [A-Za-z0-9_./-]" >&2; exit 1 ;; esac
done
if [ -z "$bindir" ]; then
    for d in "$root/target/release" "$root/target/debug"; do
        if [ -x "$d/paliadin-shim" ]; then bindir=$d; break; fi
    done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/paliadin-shim" ]; then
    echo "install-host.sh: no built paliadin-shim; run \`cargo build --release --bins\` or pass --bin-dir" >&2
    exit 1
fi

# As the target account (HOME set to theirs): every file they own is created by them.
as_user() {
    if [ "$user" = "$me" ]; then
        env HOME="$home" "$@"
    else
        runuser -u "$user" -- env HOME="$home" "$@"
    fi
}

mkdir -p "$prefix/bin"
if [ "$(cd "$bindir" && pwd -P)" = "$(cd "$prefix/bin" && pwd -P)" ]; then
    # Already in place (the paliadin-host package: --bin-dir /usr/bin --prefix /usr).
    echo "using $prefix/bin/paliadin-shim and $prefix/bin/paliadin-demo-agent"
else
    for b in paliadin-shim paliadin-demo-agent; do
        install -m 0755 "$bindir/$b" "$prefix/bin/$b.new"
        mv -f "$prefix/bin/$b.new" "$prefix/bin/$b"
    done
    echo "installed $prefix/bin/paliadin-shim and $prefix/bin/paliadin-demo-agent"
fi
# The Claude Code hook program: the package's own (/usr/lib/paliadin-host/paliadin-hook, beside
# /usr/share/paliadin-host/install-host.sh), else installed from the built binaries.
hook_bin="$here/../../lib/paliadin-host/paliadin-hook"
if [ -x "$hook_bin" ]; then
    hook_bin="$(cd "$(dirname "$hook_bin")" && pwd)/paliadin-hook"
elif [ -x "$bindir/paliadin-hook" ]; then
    hook_bin="$prefix/bin/paliadin-hook"
    if [ "$(cd "$bindir" && pwd -P)" != "$(cd "$prefix/bin" && pwd -P)" ]; then
        install -m 0755 "$bindir/paliadin-hook" "$hook_bin.new"
        mv -f "$hook_bin.new" "$hook_bin"
        echo "installed $hook_bin"
    fi
else
    hook_bin=""
    [ "$skill" -eq 0 ] || {
        echo "install-host.sh: no built paliadin-hook in $bindir (or pass --no-skill)" >&2
        exit 1
    }
fi

as_user mkdir -p "$spool"
as_user chmod 700 "$spool"

if [ "$skill" -eq 1 ]; then
    set -- --spool-dir "$spool" --hook-bin "$hook_bin"
    [ -z "$workdir" ] || set -- "$@" "$workdir"
    as_user sh "$here/skill/install.sh" "$@"
fi

if [ -n "$key" ]; then
    opts="restrict"
    [ -z "$from" ] || opts="$opts,from=\"$from\""
    line="$opts,command=\"env PALIADIN_SPOOL_DIR=$spool $prefix/bin/paliadin-shim serve\" $pub"
    keyfile="$home/.ssh/authorized_keys"
    body=$(echo "$pub" | awk '{print $2}')
    as_user mkdir -p "$home/.ssh"
    as_user chmod 700 "$home/.ssh"
    as_user touch "$keyfile"
    # Replace an earlier line for the same key; keep every other line.
    tmp=$(mktemp)
    grep -v -F "$body" "$keyfile" >"$tmp" || true
    echo "$line" >>"$tmp"
    install -m 0600 -o "$user" -g "$group" "$tmp" "$keyfile"
    rm -f "$tmp"
    echo "authorized $key for $user: forced command $prefix/bin/paliadin-shim serve"
fi
echo "host ready; add it to the workers' PALIADIN_HOSTS (docs/hosts.md)"
