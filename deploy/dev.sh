#!/usr/bin/env bash
# deploy/dev.sh — runs the whole of Paliadin on this machine, in the foreground.
#
# Installs missing system packages, builds, gets a database ($DATABASE_URL, else a private
# cluster in .dev/pg, see deploy/pg.sh), migrates, makes an owner and an admin (tokens kept in
# .dev/owner-token and .dev/admin-token), starts the API and two workers (logs in .dev/logs/),
# waits until /readyz answers, prints how to use it. Ctrl-C (or SIGTERM) stops everything it
# started. Settings: the environment variables of the README (PALIADIN_BIND, ...);
# PALIADIN_DEV_DIR moves the tokens and logs out of .dev (the suites run it that way).
#
# The agents run in Paliadin's own tmux server (`paliadin-worker tmux-socket` prints its socket),
# never in the tmux server of the person running this script, even from inside one of its
# sessions (docs/tmux-driving.md, "Paliadin's own tmux server").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
export PATH="$root/target/debug:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [[ -t 2 ]]; then
  say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else
  say() { printf '==> %s\n' "$*" >&2; }
fi
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

bind=${PALIADIN_BIND:-127.0.0.1:8080}
host=${bind%:*}
port=${bind##*:}
case $host in "" | 0.0.0.0 | "[::]") host=127.0.0.1 ;; esac
base=http://$host:$port
dev=${PALIADIN_DEV_DIR:-$root/.dev}
logs=$dev/logs

pids=()
names=()
pg_started=0
cleaned=0
cleanup() {
  [[ $cleaned -eq 0 ]] || return 0
  cleaned=1
  trap '' INT TERM HUP
  if [[ ${#pids[@]} -gt 0 ]]; then
    say "stopping ${names[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    # Give them 30 s (workers take up to 20 s of grace), then kill what is left. An exited but
    # not yet reaped child still answers kill -0, so zombies count as gone.
    local deadline=$((SECONDS + 30)) pid
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]] \
        && ((SECONDS < deadline)); do sleep 0.2; done
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if [[ $pg_started -eq 1 ]]; then
    say "stopping the private PostgreSQL cluster"
    pg_stop dev || true
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM HUP

# Starts "$@" in its own session (so a terminal's Ctrl-C reaches only this script, which then
# stops it in order), logging to .dev/logs/$1.log.
start_bg() {
  local name=$1
  shift
  NO_COLOR=1 setsid "$@" </dev/null >"$logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

show_log() {
  echo "--- last lines of $1 ---" >&2
  tail -n 30 "$1" >&2 || true
}

say "checking system packages"
deploy/ensure-deps.sh

say "building (cargo build --bins)"
# Compile-time query checks use the committed offline data, not whatever DATABASE_URL points at.
if [[ -d .sqlx ]]; then export SQLX_OFFLINE=${SQLX_OFFLINE:-true}; fi
cargo build --bins
for bin in paliadin-api paliadin-worker; do
  [[ -x target/debug/$bin ]] || die "target/debug/$bin was not built"
done

if (exec 3<>"/dev/tcp/${host//[\[\]]/}/$port") 2>/dev/null; then
  die "something already listens on $bind (another deploy/dev.sh?). Stop it or set PALIADIN_BIND."
fi

# shellcheck source=deploy/pg.sh
. deploy/pg.sh
if [[ -n ${DATABASE_URL:-} ]]; then
  say "using DATABASE_URL"
else
  say "starting (or reusing) the private PostgreSQL cluster"
fi
pg_url dev || die "no database"
pg_started=$PG_STARTED
export DATABASE_URL=$PG_URL

mkdir -p "$logs"
say "migrating"
paliadin-api migrate >"$logs/migrate.log" 2>&1 || { show_log "$logs/migrate.log"; die "migrate failed"; }

# Writes the last line of $2 (a command's output) to the private file $1.
save_token() { (umask 077 && printf '%s\n' "$2" | tail -n 1 | tr -d '[:space:]' >"$1"); }
# The token as a curl header file (`curl -H @file`): a token on a command line shows in `ps`.
auth_header() { (umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$1")" >"$1.header"); }
# Makes sure user $1 (role $2) exists and file $3 holds a token of it.
ensure_user() {
  local email=$1 role=$2 file=$3 out
  if out=$(paliadin-api user add --email "$email" --role "$role" 2>>"$logs/setup.log"); then
    save_token "$file" "$out"
  elif [[ ! -s $file ]]; then
    new_token "$email" "$file"
  fi
}
new_token() {
  local out
  out=$(paliadin-api user token --email "$1" 2>>"$logs/setup.log") \
    || { show_log "$logs/setup.log"; die "cannot make a token for $1"; }
  save_token "$2" "$out"
}
# Re-mints the token in $2 (for user $1) when $3 does not accept it.
check_token() {
  local code
  auth_header "$2"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "@$2.header" "$base$3")
  if [[ $code != 200 ]]; then
    say "the token in $2 is not accepted here ($code); making a new one"
    new_token "$1" "$2"
    auth_header "$2"
  fi
}
: >"$logs/setup.log"
mkdir -p "$dev"
ensure_user owner@localhost owner "$dev/owner-token"
ensure_user admin@localhost admin "$dev/admin-token"

# With the real agent (claude on PATH, no agent configured), install the Paliadin skill and hooks
# first, so Claude Code answers through the reply protocol (docs/claude-code.md).
if [[ -z ${PALIADIN_AGENT_CMD:-} ]] && command -v claude >/dev/null 2>&1; then
  if [[ -n ${XDG_RUNTIME_DIR:-} ]]; then default_spool=$XDG_RUNTIME_DIR/paliadin/spool; else default_spool=/tmp/paliadin-$(id -u)/spool; fi
  export PALIADIN_SPOOL_DIR=${PALIADIN_SPOOL_DIR:-$default_spool}
  say "claude found on PATH: installing the Paliadin skill and hooks (deploy/skill/install.sh)"
  deploy/skill/install.sh --spool-dir "$PALIADIN_SPOOL_DIR" "$PWD" >>"$logs/setup.log" 2>&1 \
    || die "deploy/skill/install.sh failed; see $logs/setup.log"
fi

say "starting the API on $bind and workers dev-w1, dev-w2"
start_bg api env PALIADIN_BIND="$bind" paliadin-api serve
start_bg worker-dev-w1 env PALIADIN_WORKER_ID=dev-w1 paliadin-worker
start_bg worker-dev-w2 env PALIADIN_WORKER_ID=dev-w2 paliadin-worker

deadline=$((SECONDS + 60))
until [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz") == 200 ]]; do
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    show_log "$logs/api.log"
    die "the API exited before it was ready"
  fi
  if ((SECONDS >= deadline)); then
    show_log "$logs/api.log"
    die "$base/readyz did not answer 200 within 60 s"
  fi
  sleep 0.5
done
check_token owner@localhost "$dev/owner-token" '/api/paliadin/turns?limit=1'
check_token admin@localhost "$dev/admin-token" /api/admin/paliadin/stats
tmux_socket=$(paliadin-worker tmux-socket)

session="${PALIADIN_SESSION_PREFIX:-paliadin}-<first 8 hex of the owner's user id>"
if bindir=$(pg_bindir 2>/dev/null); then psql=$bindir/psql; else psql=$(command -v psql || true); fi
if [[ -x $psql ]]; then
  uid=$("$psql" -X -q -Atc "SELECT id FROM users WHERE email = 'owner@localhost'" "$DATABASE_URL" 2>/dev/null || true)
  [[ $uid =~ ^[0-9a-f]{8} ]] && session="${PALIADIN_SESSION_PREFIX:-paliadin}-${BASH_REMATCH[0]}"
fi

cat <<EOF

Paliadin is running.

  Chat        $base/paliadin
  Log in      open $base/login and paste the owner token
  Dashboard   $base/admin/paliadin  (log in with the admin token)
  Owner token $(cat "$dev/owner-token")   (in $dev/owner-token)
  Admin token $(cat "$dev/admin-token")   (in $dev/admin-token)
  Database    $DATABASE_URL
  Logs        $logs/{api,worker-dev-w1,worker-dev-w2}.log

Send a turn and stream the reply from a shell:
  (the token travels in a header file, never on a command line where \`ps\` shows it)
  SSE=\$(curl -s -H @$dev/owner-token.header -H 'content-type: application/json' \\
      -d '{"user_message":"hello"}' $base/api/paliadin/turn | jq -r .sse_url)
  curl -N -H @$dev/owner-token.header "$base\$SSE"

Watch the agent work (its tmux session starts with the owner's first turn). The agents run in
Paliadin's own tmux server, not in yours:
  tmux -S $tmux_socket ls
  tmux -S $tmux_socket attach -t $session     (detach again with Ctrl-b d)

Ctrl-C stops the API and the workers$([[ $pg_started -eq 1 ]] && echo ", and the private PostgreSQL cluster"). Agent tmux sessions stay.
EOF

# Run until Ctrl-C / SIGTERM, or until one of the processes exits on its own.
while true; do
  wait -n "${pids[@]}" || true
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      show_log "$logs/${names[$i]}.log"
      die "${names[$i]} exited; stopping everything"
    fi
  done
done
