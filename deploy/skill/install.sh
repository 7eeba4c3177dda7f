#!/bin/sh
# Installs the Paliadin skill and hooks for Claude Code in $HOME (docs/claude-code.md):
#   ~/.claude/skills/paliadin/SKILL.md       the skill (persona + reply protocol)
#   ~/.claude/skills/paliadin/hooks/*         UserPromptSubmit, PostToolUse, Stop and
#                                             PermissionRequest hooks
#   ~/.claude/settings.json                   hooks registered (merged: other settings kept)
#   ~/.claude.json                            onboarding done; WORKDIR's trust dialog accepted;
#                                             $ANTHROPIC_API_KEY (if set) approved for use
# Idempotent: running it again replaces Paliadin's own entries and keeps everything else.
# Needs only POSIX sh and python3. Honours HOME (tests point it at a temporary directory).
set -eu

usage() {
    cat <<'EOF'
Usage: install.sh [--spool-dir DIR] [WORKDIR]

  WORKDIR          directory the agent runs in: its folder-trust dialog is pre-accepted
                   (projects.<WORKDIR>.hasTrustDialogAccepted in ~/.claude.json)
  --spool-dir DIR  also allow Claude to read and write the spool directory without asking
                   (permissions.allow + permissions.additionalDirectories in settings.json)

When ANTHROPIC_API_KEY is set in the installer's environment, Claude Code's "Detected a custom
API key ... use this API key?" question is answered Yes in advance for that key (only its last
20 characters are stored, as Claude Code itself does).
EOF
}

spool=""
workdir=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --spool-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; spool=$2; shift 2 ;;
        --spool-dir=*) spool=${1#--spool-dir=}; shift ;;
        -*) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [ -z "$workdir" ] || { usage >&2; exit 2; }; workdir=$1; shift ;;
    esac
done

: "${HOME:?HOME must be set}"
command -v python3 >/dev/null 2>&1 || { echo "install.sh: python3 is required" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
dest="$HOME/.claude/skills/paliadin"
mkdir -p "$dest/hooks"
cp "$here/paliadin/SKILL.md" "$dest/SKILL.md"
for hook in user-prompt-submit post-tool-use stop permission-request; do
    cp "$here/hooks/$hook" "$dest/hooks/$hook"
    chmod 755 "$dest/hooks/$hook"
done
cp "$here/hooks/paliadin_hooks.py" "$dest/hooks/paliadin_hooks.py"

python3 - "$HOME" "$dest/hooks" "$workdir" "$spool" <<'PY'
import json, os, shlex, sys

home, hooks_dir, workdir, spool = sys.argv[1:5]

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
    return "/skills/paliadin/hooks/" in str(entry.get("command", ""))

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
}
for event, (script, matcher, timeout) in wanted.items():
    groups = []
    for group in hooks.get(event, []):
        if isinstance(group, dict) and isinstance(group.get("hooks"), list):
            group = dict(group, hooks=[h for h in group["hooks"] if not ours(h)])
            if not group["hooks"]:
                continue
        groups.append(group)
    command = shlex.quote(os.path.join(hooks_dir, script))
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

echo "Paliadin skill installed in $dest; hooks registered in $HOME/.claude/settings.json"
