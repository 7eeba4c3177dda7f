#!/bin/sh
# Gives one owner an agent account of their own on THIS machine, for a worker host
# `NAME=accounts:///etc/paliadin/accounts` (docs/security.md, "Per-owner isolation"):
#   - the account (created if missing: home mode 0700, a member of the agents' group, which the
#     sudoers rule deploy/sudoers/paliadin-agents.example lets the worker become);
#   - its spool ~/.local/state/paliadin/spool (0700), where `paliadin-shim serve --private` keeps it;
#   - the agent's instructions and hooks for it, allowed to read and write only that spool: the
#     Claude Code skill, or with `--agent codex` Codex's (deploy/agents/codex/install.sh, which
#     logs Codex in with OPENAI_API_KEY when this script has it in its environment);
#   - the line `<user id> <account> [<agent> [<command>]]` in the account map (replacing an
#     earlier line of that user): with `--agent`, this owner's agent is not the worker's.
# Run as root. Idempotent. The worker reads the map again when it changes: no restart.
set -eu

usage() {
    cat <<'USAGE'
Usage: add-owner-account.sh --user-id UUID --account NAME [options]

  --user-id UUID   the owner's id (paliadin-api user list)
  --account NAME   their agent account, [a-z_][a-z0-9_-]{0,31} (e.g. pa-alice)
  --map FILE       the account map (default /etc/paliadin/accounts)
  --group NAME     the agents' group the sudoers rule names (default paliadin-agents)
  --workdir DIR    the agent's working directory (default: the account's home)
  --agent KIND     this owner's agent, claude, codex or demo (default: the worker's own,
                   PALIADIN_AGENT; its instructions and hooks are Claude Code's)
  --agent-cmd CMD  the command that runs it (default: its program on the account's PATH)
  --no-skill       do not install the agent's instructions and hooks
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
uid_arg="" account="" map=/etc/paliadin/accounts group=paliadin-agents workdir="" skill=1
agent="" agent_cmd=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --user-id | --account | --map | --group | --workdir | --agent | --agent-cmd)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            case "$1" in
                --user-id) uid_arg=$2 ;; --account) account=$2 ;; --map) map=$2 ;;
                --group) group=$2 ;; --workdir) workdir=$2 ;;
                --agent) agent=$2 ;; --agent-cmd) agent_cmd=$2 ;;
            esac
            shift 2 ;;
        --no-skill) skill=0; shift ;;
        *) echo "add-owner-account.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "add-owner-account.sh: run as root" >&2; exit 1; }
user_id=$(printf '%s' "$uid_arg" | tr 'A-F' 'a-f')
if ! printf '%s' "$user_id" | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'; then
    echo "add-owner-account.sh: --user-id must be a user id (UUID)" >&2; exit 2
fi
if ! printf '%s' "$account" | grep -Eqx '[a-z_][a-z0-9_-]{0,31}' || [ "$account" = root ]; then
    echo "add-owner-account.sh: --account must match [a-z_][a-z0-9_-]{0,31} (and not be root)" >&2
    exit 2
fi
case "$map" in /*) ;; *) echo "add-owner-account.sh: --map must be an absolute path" >&2; exit 2 ;; esac
case "$agent" in "" | claude | codex | demo) ;; *)
    echo "add-owner-account.sh: --agent must be claude, codex or demo" >&2; exit 2 ;;
esac
case "$agent_cmd" in *'#'* | *'
'*) echo "add-owner-account.sh: --agent-cmd cannot hold # or a newline" >&2; exit 2 ;; esac
[ -z "$agent_cmd" ] || [ -n "$agent" ] || {
    echo "add-owner-account.sh: --agent-cmd needs --agent" >&2; exit 2
}
if [ -f "$map" ] && awk -v u="$user_id" -v a="$account" \
    '{ sub(/#.*/, "") } NF >= 2 && $2 == a && tolower($1) != u { found = 1 } END { exit !found }' "$map"; then
    echo "add-owner-account.sh: $account already runs another owner's agent (in $map)" >&2; exit 1
fi

getent group "$group" >/dev/null || groupadd --system "$group"
if id "$account" >/dev/null 2>&1; then
    usermod -a -G "$group" "$account"
else
    useradd --create-home -K HOME_MODE=0700 --shell /bin/bash --groups "$group" "$account"
fi
home=$(getent passwd "$account" | cut -d: -f6)
chmod 0700 "$home"
spool="$home/.local/state/paliadin/spool"
runuser -u "$account" -- env HOME="$home" sh -c 'umask 077 && mkdir -p "$1" && chmod 700 "$1"' sh "$spool"

# The hook program the account's agent runs: the package's own, else the first on PATH (an
# installer run from a staged copy cannot find it by its own location).
hook_bin="$here/../../lib/paliadin-host/paliadin-hook"
[ -x "$hook_bin" ] || hook_bin=$(command -v paliadin-hook || true)

if [ "$skill" -eq 1 ] && [ "$agent" = codex ]; then
    staged=$(mktemp -d)
    cp -R "$here/agents/codex" "$staged/"
    chmod -R a+rX "$staged"
    set -- --spool-dir "$spool" "${workdir:-$home}"
    [ -z "$hook_bin" ] || set -- --hook-bin "$hook_bin" "$@"
    # The codex that logs in with the key: the command's program when it is a path.
    codex_bin=${agent_cmd%% *}
    case "$codex_bin" in /*) set -- --codex-bin "$codex_bin" "$@" ;; esac
    # The key (when given) goes through a pipe, never a command line, into the installer's
    # environment, and from it to `codex login`: it ends up in the account's own auth.json.
    printf '%s' "${OPENAI_API_KEY:-}" | runuser -u "$account" -- env -i HOME="$home" \
        PATH=/usr/local/bin:/usr/bin:/bin sh -c \
        'IFS= read -r key || :; [ -z "$key" ] || export OPENAI_API_KEY="$key"; unset key; exec sh "$0" "$@"' \
        "$staged/codex/install.sh" "$@"
    rm -rf "$staged"
elif [ "$skill" -eq 1 ] && [ "$agent" != demo ]; then
    # From a copy the account can read (this checkout may live in root's home).
    staged=$(mktemp -d)
    cp -R "$here/skill" "$staged/"
    chmod -R a+rX "$staged"
    set -- --spool-dir "$spool" "${workdir:-$home}"
    [ -z "$hook_bin" ] || set -- --hook-bin "$hook_bin" "$@"
    runuser -u "$account" -- env -i HOME="$home" PATH=/usr/bin:/bin sh "$staged/skill/install.sh" "$@"
    rm -rf "$staged"
fi

# The map: written whole, owned by root, mode 0644 (the worker refuses one others can write).
mkdir -p "$(dirname "$map")"
tmp=$(mktemp "$map.XXXXXX")
if [ -f "$map" ]; then
    awk -v u="$user_id" '{ line = $0; sub(/#.*/, "", line); split(line, w) } tolower(w[1]) != u' "$map" >"$tmp"
fi
printf '%s %s%s%s\n' "$user_id" "$account" "${agent:+ $agent}" "${agent_cmd:+ $agent_cmd}" >>"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$map"
echo "owner $user_id: agent account $account (spool $spool) in $map"
