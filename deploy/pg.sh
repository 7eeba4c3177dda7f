#!/usr/bin/env bash
# deploy/pg.sh — a PostgreSQL URL for Paliadin: the one you give, or a private cluster.
#
# Usage (as a command):
#   deploy/pg.sh url    [dev|test]   print a URL; starts the private cluster if none is given
#   deploy/pg.sh start  [dev|test]   start (or reuse) the private cluster, print its URL
#   deploy/pg.sh stop   [dev|test]   stop the private cluster (nothing to do if it is not running)
#   deploy/pg.sh status [dev|test]   say whether it runs, where, on which port
#
# `url dev` prints $DATABASE_URL when set; `url test` prints $PALIADIN_TEST_ADMIN_URL when set,
# else postgres://postgres@127.0.0.1:5432/postgres when a trusting server answers there.
# Otherwise a private cluster is used: initdb'd with scram-sha-256 auth and a generated password
# (kept in <data dir>/paliadin.password, mode 0600, and put into the printed URL), listening on
# 127.0.0.1 only (port 55432 dev / 55433 test, or the next free one) and on a unix socket inside
# its data dir. No other local user can connect without the password. An existing data dir is
# reused only when it is a real directory owned by the server's OS user with mode 0700.
# Its data dir is .dev/pg (dev) or .dev/pg-test (test) in the repository; when the server's OS
# user cannot reach that path (e.g. the repo lives under /root) or the path is too long for a
# unix socket, it is /tmp/paliadin-pg-<hash of the repo path>-<kind> instead.
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` OS user when it
# exists, else as a `paliadin` system user created on first use (override: PALIADIN_PG_OS_USER).
# Overrides: PALIADIN_PG_BINDIR (PostgreSQL binaries), PALIADIN_PG_DATADIR, PALIADIN_PG_PORT.
#
# Sourced (`. deploy/pg.sh`), it only defines the pg_* functions. pg_url/pg_start set PG_URL and
# PG_STARTED (1 when this call started the server, 0 when it reused one or was given a URL).

PG_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_URL=""
PG_STARTED=0

pg_err() { echo "pg.sh: $*" >&2; }

# The directory holding initdb, pg_ctl, postgres and psql (newest version first).
pg_bindir() {
  local d
  if [[ -n ${PALIADIN_PG_BINDIR:-} ]]; then
    echo "$PALIADIN_PG_BINDIR"
    return 0
  fi
  while read -r d; do
    if [[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]]; then
      echo "$d"
      return 0
    fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin /usr/pgsql-*/bin | sort -V -r)
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null)
    if [[ -x $d/postgres && -x $d/initdb ]]; then
      echo "$d"
      return 0
    fi
  fi
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

# The OS user the private server runs as.
pg_os_user() {
  if [[ $EUID -ne 0 ]]; then
    id -un
  elif [[ -n ${PALIADIN_PG_OS_USER:-} ]]; then
    echo "$PALIADIN_PG_OS_USER"
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    if ! id paliadin >/dev/null 2>&1; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        paliadin >&2 || return 1
    fi
    echo paliadin
  fi
}

# Runs a command as the server's OS user.
pg_as() {
  local user
  user=$(pg_os_user) || return 1
  (
    cd / || exit 1 # the caller's cwd may be unreadable for that user
    if [[ $EUID -ne 0 ]]; then
      "$@"
    elif command -v runuser >/dev/null 2>&1; then
      runuser -u "$user" -- "$@"
    else
      su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
    fi
  )
}

# True when $1 is a real directory (no symlink) owned by the server's OS user, mode 0700:
# nobody else can have planted or read a cluster there.
pg_owned_dir() {
  local dir=$1 user owner mode
  user=$(pg_os_user) || return 1
  [[ -d $dir && ! -L $dir ]] || return 1
  owner=$(stat -c %U "$dir") && mode=$(stat -c %a "$dir") || return 1
  if [[ $owner != "$user" ]]; then
    pg_err "refusing $dir: owned by $owner, not $user"
    return 1
  fi
  if (( 8#$mode & 8#077 )); then
    pg_err "refusing $dir: mode $mode, not 700"
    return 1
  fi
}

# Makes $1 a private directory of the server's user and checks that user can use it. A
# directory that already exists must already be that user's alone (pg_owned_dir).
pg_try_dir() {
  local dir=$1 user
  user=$(pg_os_user) || return 1
  if [[ -e $dir || -L $dir ]]; then
    pg_owned_dir "$dir" || return 1
  fi
  mkdir -p "$dir" 2>/dev/null || return 1
  if [[ $EUID -eq 0 ]]; then chown "$user:" "$dir" || return 1; fi
  chmod 700 "$dir" || return 1
  # A unix socket path is limited to 107 bytes: "<dir>/.s.PGSQL.NNNNN".
  (( ${#dir} + 15 <= 100 )) || return 1
  pg_as test -r "$dir" -a -w "$dir" -a -x "$dir" 2>/dev/null
}

# The data directory of the private cluster of kind $1 (dev|test); created if needed.
pg_datadir() {
  local kind=$1 local_dir fallback hash
  if [[ -n ${PALIADIN_PG_DATADIR:-} ]]; then
    pg_try_dir "$PALIADIN_PG_DATADIR" || { pg_err "cannot use $PALIADIN_PG_DATADIR"; return 1; }
    echo "$PALIADIN_PG_DATADIR"
    return 0
  fi
  if [[ $kind == dev ]]; then local_dir=$PG_REPO/.dev/pg; else local_dir=$PG_REPO/.dev/pg-test; fi
  hash=$(printf '%s' "$PG_REPO" | sha256sum | cut -c1-12)
  fallback=/tmp/paliadin-pg-$hash-$kind
  if [[ -f $local_dir/PG_VERSION ]] && pg_owned_dir "$local_dir"; then echo "$local_dir"; return 0; fi
  if [[ -e $fallback || -L $fallback ]]; then
    # In /tmp anyone could have made it first: reuse it only if it is the server user's alone.
    pg_owned_dir "$fallback" || { pg_err "remove $fallback or set PALIADIN_PG_DATADIR"; return 1; }
    if [[ -f $fallback/PG_VERSION ]]; then echo "$fallback"; return 0; fi
  fi
  mkdir -p "$PG_REPO/.dev"
  if pg_try_dir "$local_dir"; then echo "$local_dir"; return 0; fi
  rmdir "$local_dir" 2>/dev/null || true
  if pg_try_dir "$fallback"; then echo "$fallback"; return 0; fi
  pg_err "no usable data directory (tried $local_dir and $fallback)"
  return 1
}

pg_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The port a stopped cluster should use: the default when free, else the next free one.
pg_pick_port() {
  local kind=$1 port
  if [[ -n ${PALIADIN_PG_PORT:-} ]]; then echo "$PALIADIN_PG_PORT"; return 0; fi
  if [[ $kind == dev ]]; then port=55432; else port=55433; fi
  local tries=0
  while pg_port_busy "$port"; do
    port=$((port + 2))
    tries=$((tries + 1))
    (( tries < 50 )) || { pg_err "no free port found"; return 1; }
  done
  echo "$port"
}

# The port of the running cluster in $1 (line 4 of postmaster.pid).
pg_running_port() { sed -n 4p "$1/postmaster.pid" 2>/dev/null; }

pg_is_running() {
  local bindir=$1 dir=$2
  [[ -f $dir/postmaster.pid ]] && pg_as "$bindir/pg_ctl" status -D "$dir" >/dev/null 2>&1
}

pg_init() {
  local kind=$1 bindir=$2 dir=$3 pw pwfile
  echo "pg.sh: initialising a private $kind cluster in $dir" >&2
  pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  # The password file is the server user's own (mode 0600), gone right after initdb.
  pwfile=$(pg_as mktemp) || { pg_err "cannot make a password file"; return 1; }
  printf '%s\n' "$pw" | pg_as sh -c 'cat >"$1"' sh "$pwfile"
  local rc=0
  pg_as "$bindir/initdb" -D "$dir" -U postgres -A scram-sha-256 --pwfile="$pwfile" \
    -E UTF8 --no-locale >"$dir.initdb.log" 2>&1 || rc=$?
  pg_as rm -f "$pwfile"
  if [[ $rc -ne 0 ]]; then pg_err "initdb failed:"; cat "$dir.initdb.log" >&2; return 1; fi
  rm -f "$dir.initdb.log"
  printf '%s' "$pw" | pg_as sh -c 'umask 077; cat >"$1"' sh "$dir/paliadin.password"
  {
    echo "# Added by deploy/pg.sh"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir'"
    echo "max_connections = 300"
    if [[ $kind == test ]]; then
      # Throw-away data: trade durability for speed.
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } >>"$dir/postgresql.conf"
}

# Starts (or reuses) the private cluster of kind $1 and sets PG_URL / PG_STARTED.
pg_start() {
  local kind=${1:-dev} bindir dir port lock_fd db=postgres
  [[ $kind == dev || $kind == test ]] || { pg_err "kind must be dev or test, not '$kind'"; return 2; }
  [[ $kind == dev ]] && db=paliadin
  PG_STARTED=0
  bindir=$(pg_bindir) || { pg_err "no PostgreSQL server binaries found (run deploy/ensure-deps.sh)"; return 1; }
  dir=$(pg_datadir "$kind") || return 1
  exec {lock_fd}>"$dir.lock"
  flock -w 120 "$lock_fd" || { pg_err "timed out waiting for $dir.lock"; exec {lock_fd}>&-; return 1; }
  if [[ ! -f $dir/PG_VERSION ]]; then
    pg_init "$kind" "$bindir" "$dir" || { exec {lock_fd}>&-; return 1; }
  fi
  if pg_is_running "$bindir" "$dir"; then
    port=$(pg_running_port "$dir")
  else
    local attempt
    for attempt in 1 2 3; do
      port=$(pg_pick_port "$kind") || { exec {lock_fd}>&-; return 1; }
      # The server must not inherit the lock's descriptor, or it would hold the lock forever;
      # in a session of its own, a Ctrl-C in the caller's terminal does not reach it.
      if pg_as setsid -w "$bindir/pg_ctl" start -w -t 60 -D "$dir" -l "$dir/server.log" -o "-p $port" \
        >/dev/null {lock_fd}>&-; then
        PG_STARTED=1
        break
      fi
      pg_err "start on port $port failed (attempt $attempt); log tail:"
      tail -n 5 "$dir/server.log" >&2 || true
    done
    if [[ $PG_STARTED -ne 1 ]]; then exec {lock_fd}>&-; return 1; fi
  fi
  local pw="" auth=""
  pw=$(pg_as cat "$dir/paliadin.password" 2>/dev/null) || pw=""
  if [[ -n $pw ]]; then
    auth=":$pw"
  else
    pg_err "warning: $dir was made by an older pg.sh with trust auth (every local user can connect); remove it to re-create it with a password"
  fi
  if [[ $kind == dev ]]; then
    local psql=("$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc)
    if [[ -z $(PGPASSWORD=$pw "${psql[@]}" "SELECT 1 FROM pg_database WHERE datname = 'paliadin'") ]]; then
      PGPASSWORD=$pw "${psql[@]}" "CREATE DATABASE paliadin" >/dev/null || { exec {lock_fd}>&-; return 1; }
    fi
  fi
  exec {lock_fd}>&-
  PG_URL="postgres://postgres$auth@127.0.0.1:$port/$db"
}

# Stops the private cluster of kind $1 if it runs.
pg_stop() {
  local kind=${1:-dev} bindir dir
  bindir=$(pg_bindir) || return 0
  dir=$(pg_datadir "$kind") || return 1
  if pg_is_running "$bindir" "$dir"; then
    pg_as "$bindir/pg_ctl" stop -D "$dir" -m fast -w -t 60 >/dev/null
  fi
}

# True when a server at $1 accepts a trusted connection.
pg_answers() {
  local bindir psql
  bindir=$(pg_bindir 2>/dev/null) && psql=$bindir/psql
  [[ -x ${psql:-} ]] || psql=$(command -v psql) || return 1
  PGCONNECT_TIMEOUT=3 "$psql" -X -q -w -Atc 'SELECT 1' "$1" >/dev/null 2>&1
}

# Sets PG_URL for kind $1: the configured URL, else (test) the local default server, else the
# private cluster.
pg_url() {
  local kind=${1:-dev}
  PG_STARTED=0
  if [[ $kind == dev && -n ${DATABASE_URL:-} ]]; then PG_URL=$DATABASE_URL; return 0; fi
  if [[ $kind == test ]]; then
    if [[ -n ${PALIADIN_TEST_ADMIN_URL:-} ]]; then PG_URL=$PALIADIN_TEST_ADMIN_URL; return 0; fi
    local default=postgres://postgres@127.0.0.1:5432/postgres
    if pg_answers "$default"; then PG_URL=$default; return 0; fi
  fi
  pg_start "$kind"
}

pg_status() {
  local kind=${1:-dev} bindir dir
  bindir=$(pg_bindir) || { echo "no PostgreSQL binaries"; return 1; }
  dir=$(pg_datadir "$kind") || return 1
  if pg_is_running "$bindir" "$dir"; then
    echo "running: $dir on 127.0.0.1:$(pg_running_port "$dir") (os user $(pg_os_user))"
  else
    echo "stopped: $dir"
    return 3
  fi
}

pg_main() {
  set -euo pipefail
  local cmd=${1:-} kind=${2:-dev}
  case $cmd in
    url) pg_url "$kind"; echo "$PG_URL" ;;
    start) pg_start "$kind"; echo "$PG_URL" ;;
    stop) pg_stop "$kind" ;;
    status) pg_status "$kind" ;;
    *) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; return 2 ;;
  esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  pg_main "$@"
fi
