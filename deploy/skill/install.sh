#!/bin/sh
# Installs the Paliadin skill and hooks for Claude Code in $HOME (docs/claude-code.md):
#   ~/.claude/skills/paliadin/SKILL.md       the skill (persona + reply protocol)
#   ~/.claude/settings.json                   the compiled hook program `paliadin-hook`
#                                             registered for UserPromptSubmit, PostToolUse,
#                                             Stop, PermissionRequest, StopFailure,
#                                             PreCompact and PostCompact
#                                             (merged: other settings and hooks kept)
#   ~/.claude.json                            onboarding done; WORKDIR's trust dialog accepted;
#                                             $ANTHROPIC_API_KEY (if set) approved for use
# Idempotent: running it again replaces Paliadin's own entries and keeps everything else.
# Needs POSIX sh, python3 (for merging the JSON files, here only: the hooks are compiled) and a
# built paliadin-hook. Honours HOME (tests point it at a temporary directory).
set -eu

usage() {
    cat <<'EOF'
Usage: install.sh [--spool-dir DIR] [--hook-bin PATH] [WORKDIR]

  WORKDIR          directory the agent runs in: its folder-trust dialog is pre-accepted
                   (projects.<WORKDIR>.hasTrustDialogAccepted in ~/.claude.json)
  --spool-dir DIR  also allow Claude to read and write the spool directory without asking
                   (permissions.allow + permissions.additionalDirectories in settings.json)
  --hook-bin PATH  the paliadin-hook program to register (default: the package's own,
                   /usr/lib/<package>/paliadin-hook for /usr/share/<package>/skill/install.sh;
                   else the first paliadin-hook on PATH; else target/release or target/debug
                   of this checkout)

When ANTHROPIC_API_KEY is set in the installer's environment, Claude Code's "Detected a custom
API key ... use this API key?" question is answered Yes in advance for that key (only its last
20 characters are stored, as Claude Code itself does).
EOF
}

spool=""
workdir=""
hook_bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --spool-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; spool=$2; shift 2 ;;
        --spool-dir=*) spool=${1#--spool-dir=}; shift ;;
        --hook-bin) [ $# -ge 2 ] || { usage >&2; exit 2; }; hook_bin=$2; shift 2 ;;
        --hook-bin=*) hook_bin=${1#--hook-bin=}; shift ;;
        -*) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [ -z "$workdir" ] || { usage >&2; exit 2; }; workdir=$1; shift ;;
    esac
done

: "${HOME:?HOME must be set}"
command -v python3 >/dev/null 2>&1 || { echo "install.sh: python3 is required" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$hook_bin" ]; then
    # Packaged: /usr/share/<package>/skill/install.sh and /usr/lib/<package>/paliadin-hook.
    package=$(basename "$(dirname "$here")")
    for candidate in "$here/../../../lib/$package/paliadin-hook" "$(command -v paliadin-hook || true)" \
        "$here/../../target/release/paliadin-hook" "$here/../../target/debug/paliadin-hook"; do
        if [ -n "$candidate" ] && [ -f "$candidate" ] && [ -x "$candidate" ]; then
            hook_bin=$candidate
            break
        fi
    done
    [ -n "$hook_bin" ] || {
        echo "install.sh: no paliadin-hook found (build it with \`cargo build --bins\` or pass --hook-bin)" >&2
        exit 1
    }
fi
case "$hook_bin" in /*) ;; *) hook_bin="$(pwd)/$hook_bin" ;; esac
# Absolute and normalised, but not through symlinks: a package upgrade replaces the file in place.
hook_bin="$(cd "$(dirname "$hook_bin")" && pwd)/$(basename "$hook_bin")"
case "$("$hook_bin" --version 2>/dev/null)" in
    paliadin-hook\ *) ;;
    *) echo "install.sh: $hook_bin is not a working paliadin-hook" >&2; exit 1 ;;
esac

dest="$HOME/.claude/skills/paliadin"
mkdir -p "$dest"
cp "$here/paliadin/SKILL.md" "$dest/SKILL.md"
# The Python hooks of earlier versions: replaced by the compiled program.
for old in user-prompt-submit post-tool-use stop permission-request paliadin_hooks.py; do
    rm -f "$dest/hooks/$old"
done
rm -rf "$dest/hooks/__pycache__"
rmdir "$dest/hooks" 2>/dev/null || true

python3 - "$HOME" "$hook_bin" "$workdir" "$spool" <<'PY'
import json, os, shlex, sys

home, hook_bin, workdir, spool = sys.argv[1:5]

def load(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict):
        sys.exit("install.sh: %s is not a JSON object; not touching it" % path)
    return data

def save(path, data):
    tmp = path + ".paliadin-tmp"
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)

def ours(entry):
    """Paliadin's entries: `<dir>/paliadin-hook <hook>`, or an earlier version's Python hook."""
    command = str(entry.get("command", ""))
    if "/skills/paliadin/hooks/" in command:
        return True
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return bool(words) and os.path.basename(words[0]) == "paliadin-hook"

# ~/.claude/settings.json: register the hooks, replacing earlier Paliadin entries only.
settings_path = os.path.join(home, ".claude", "settings.json")
settings = load(settings_path)
hooks = settings.setdefault("hooks", {})
# PermissionRequest waits for the person (bounded by the hook itself: see its docstring).
wanted = {
    "UserPromptSubmit": ("user-prompt-submit", None, 30),
    "PostToolUse": ("post-tool-use", "*", 30),
    "Stop": ("stop", None, 30),
    "PermissionRequest": ("permission-request", "*", 86400),
    # The model's API ended the turn with an error (Claude Code >= 2.1.x): .failure, busy off.
    "StopFailure": ("stop-failure", None, 30),
    # Claude compacts the conversation (auto or /compact): a status line before and after.
    "PreCompact": ("pre-compact", None, 30),
    "PostCompact": ("post-compact", None, 30),
}
for event, (hook, matcher, timeout) in wanted.items():
    groups = []
    for group in hooks.get(event, []):
        if isinstance(group, dict) and isinstance(group.get("hooks"), list):
            group = dict(group, hooks=[h for h in group["hooks"] if not ours(h)])
            if not group["hooks"]:
                continue
        groups.append(group)
    command = "%s %s" % (shlex.quote(hook_bin), hook)
    group = {"hooks": [{"type": "command", "command": command, "timeout": timeout}]}
    if matcher is not None:
        group = dict({"matcher": matcher}, **group)
    groups.append(group)
    hooks[event] = groups
if spool:
    spool = os.path.realpath(spool)
    perms = settings.setdefault("permissions", {})
    allow = perms.setdefault("allow", [])
    for tool in ("Read", "Write", "Edit"):
        rule = "%s(/%s/**)" % (tool, spool)
        if rule not in allow:
            allow.append(rule)
    dirs = perms.setdefault("additionalDirectories", [])
    if spool not in dirs:
        dirs.append(spool)
save(settings_path, settings)

# ~/.claude.json: skip the first-run dialogs for unattended sessions.
state_path = os.path.join(home, ".claude.json")
state = load(state_path)
state["hasCompletedOnboarding"] = True
if workdir:
    projects = state.setdefault("projects", {})
    project = projects.setdefault(os.path.realpath(workdir), {})
    project["hasTrustDialogAccepted"] = True
# The key itself never reaches argv or a file: Claude Code remembers approved keys by their
# last 20 characters.
key = os.environ.get("ANTHROPIC_API_KEY", "")
if key:
    responses = state.setdefault("customApiKeyResponses", {})
    approved = responses.setdefault("approved", [])
    rejected = responses.setdefault("rejected", [])
    if key[-20:] not in approved:
        approved.append(key[-20:])
    responses["rejected"] = [k for k in rejected if k != key[-20:]]
save(state_path, state)
PY

echo "Paliadin skill installed in $dest; $hook_bin registered in $HOME/.claude/settings.json"
