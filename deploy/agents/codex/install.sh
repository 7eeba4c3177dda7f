#!/bin/sh
# Installs Paliadin's instructions and hooks for the OpenAI Codex CLI (docs/agents.md):
#   $CODEX_HOME/AGENTS.md    Paliadin's reply protocol (a marked section; the rest is kept)
#   $CODEX_HOME/config.toml  the compiled hook program `paliadin-hook` registered for
#                            UserPromptSubmit, PostToolUse, Stop, PermissionRequest,
#                            Interrupt, PreCompact and PostCompact, trusted in advance ([hooks.state], so that Codex's
#                            "Hooks need review" screen does not stop an unattended start);
#                            WORKDIR trusted as a project; the spool writable in the sandbox
#   $CODEX_HOME/auth.json    with OPENAI_API_KEY in the installer's environment: Codex logged
#                            in with that key (`codex login --with-api-key`), so that OpenAI's
#                            own provider starts without its sign-in screen
# Everything Paliadin adds to config.toml sits between two marker lines and is replaced on the
# next run; the rest of the file is kept. CODEX_HOME defaults to $HOME/.codex. The model
# provider stays the operator's: docs/agents.md shows both ways.
# Needs POSIX sh, python3 (3.11: tomllib) and a built paliadin-hook.
set -eu

usage() {
    cat <<'USAGE'
Usage: install.sh [--spool-dir DIR] [--hook-bin PATH] [--codex-bin PATH] [WORKDIR]

  WORKDIR          directory the agent runs in: trusted as a project (no trust screen)
  --spool-dir DIR  the spool: writable for commands Codex runs in its workspace-write sandbox
                   ([sandbox_workspace_write] writable_roots), unless config.toml sets that
                   table itself
  --hook-bin PATH  the paliadin-hook program to register (default: the first paliadin-hook
                   on PATH, else target/release or target/debug of this checkout)
  --codex-bin PATH the codex that logs in with OPENAI_API_KEY (default: codex on PATH)

With OPENAI_API_KEY set, Codex is logged in with it (API-key login for OpenAI's own provider).
USAGE
}

spool=""
workdir=""
hook_bin=""
codex_bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --spool-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; spool=$2; shift 2 ;;
        --spool-dir=*) spool=${1#--spool-dir=}; shift ;;
        --hook-bin) [ $# -ge 2 ] || { usage >&2; exit 2; }; hook_bin=$2; shift 2 ;;
        --hook-bin=*) hook_bin=${1#--hook-bin=}; shift ;;
        --codex-bin) [ $# -ge 2 ] || { usage >&2; exit 2; }; codex_bin=$2; shift 2 ;;
        --codex-bin=*) codex_bin=${1#--codex-bin=}; shift ;;
        -*) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [ -z "$workdir" ] || { usage >&2; exit 2; }; workdir=$1; shift ;;
    esac
done

: "${HOME:?HOME must be set}"
command -v python3 >/dev/null 2>&1 || { echo "install.sh: python3 is required" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$hook_bin" ]; then
    for candidate in "$(command -v paliadin-hook || true)" \
        "$here/../../../target/release/paliadin-hook" "$here/../../../target/debug/paliadin-hook"; do
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
hook_bin="$(cd "$(dirname "$hook_bin")" && pwd)/$(basename "$hook_bin")"
case "$("$hook_bin" --version 2>/dev/null)" in
    paliadin-hook\ *) ;;
    *) echo "install.sh: $hook_bin is not a working paliadin-hook" >&2; exit 1 ;;
esac

codex_home=${CODEX_HOME:-$HOME/.codex}
case "$codex_home" in /*) ;; *) codex_home="$(pwd)/$codex_home" ;; esac
mkdir -p "$codex_home"
chmod 700 "$codex_home"

python3 - "$codex_home" "$hook_bin" "$workdir" "$spool" "$here/AGENTS.md" <<'PY'
import hashlib, json, os, re, shlex, sys, tomllib

codex_home, hook_bin, workdir, spool, agents_src = sys.argv[1:6]
BEGIN = "# >>> paliadin (deploy/agents/codex/install.sh): replaced on reinstall"
END = "# <<< paliadin"

def save(path, text):
    tmp = path + ".paliadin-tmp"
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)

def without(text, begin, end):
    """The text without the marked section (markers included)."""
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.rstrip("\n") == begin:
            inside = True
        elif inside and line.rstrip("\n") == end:
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)

def toml_str(s):
    return json.dumps(s, ensure_ascii=False)

# AGENTS.md: Codex's global instructions, read at every session start.
agents_path = os.path.join(codex_home, "AGENTS.md")
with open(agents_src, encoding="utf-8") as f:
    ours = f.read()
old = open(agents_path, encoding="utf-8").read() if os.path.exists(agents_path) else ""
kept = without(old, "<!-- paliadin:begin -->", "<!-- paliadin:end -->").rstrip("\n")
section = "<!-- paliadin:begin -->\n" + ours.rstrip("\n") + "\n<!-- paliadin:end -->\n"
save(agents_path, (kept + "\n\n" if kept else "") + section)

# config.toml: hooks, their trust, the project's trust, the spool's sandbox access.
config_path = os.path.join(codex_home, "config.toml")
old = open(config_path, encoding="utf-8").read() if os.path.exists(config_path) else ""
rest = without(old, BEGIN, END).rstrip("\n")
try:
    theirs = tomllib.loads(rest)
except tomllib.TOMLDecodeError as e:
    sys.exit("install.sh: %s is not valid TOML (%s); not touching it" % (config_path, e))
their_hooks = theirs.get("hooks", {}) if isinstance(theirs.get("hooks"), dict) else {}

# (event, Codex's key for it, hook, timeout in seconds). PermissionRequest waits for the person
# (bounded by the hook itself).
wanted = [
    ("UserPromptSubmit", "user_prompt_submit", "codex-user-prompt-submit", 30),
    ("PostToolUse", "post_tool_use", "post-tool-use", 30),
    ("Stop", "stop", "codex-stop", 30),
    ("PermissionRequest", "permission_request", "permission-request", 86400),
    # Codex caps an Interrupt hook at 3 s, and trusts it by that timeout (0.171.0).
    ("Interrupt", "interrupt", "codex-interrupt", 3),
    # Codex compacts the conversation (`trigger` auto or manual, as Claude Code's hooks say).
    ("PreCompact", "pre_compact", "pre-compact", 30),
    ("PostCompact", "post_compact", "post-compact", 30),
]
lines = [BEGIN]
trust = []
for event, key, hook, timeout in wanted:
    command = "%s %s" % (shlex.quote(hook_bin), hook)
    lines += ["[[hooks.%s]]" % event, "[[hooks.%s.hooks]]" % event, 'type = "command"',
              "command = %s" % toml_str(command), "timeout = %d" % timeout, ""]
    # Codex trusts a hook by the SHA-256 of its definition as compact JSON with sorted keys,
    # under "<config file>:<event>:<group index>:<handler index>" (checked on 0.171.0).
    identity = {"event_name": key, "hooks": [{"async": False, "command": command,
                                              "timeout": timeout, "type": "command"}]}
    digest = hashlib.sha256(json.dumps(identity, separators=(",", ":"), sort_keys=True)
                            .encode()).hexdigest()
    group = len(their_hooks.get(event, []) or [])
    trust += ['[hooks.state.%s]' % toml_str("%s:%s:%d:0" % (config_path, key, group)),
              'trusted_hash = "sha256:%s"' % digest, ""]
lines += trust
if workdir:
    project = os.path.realpath(workdir)
    if project not in (theirs.get("projects") or {}):
        lines += ["[projects.%s]" % toml_str(project), 'trust_level = "trusted"', ""]
if spool:
    if "sandbox_workspace_write" in theirs:
        print("install.sh: config.toml sets [sandbox_workspace_write] itself: add %s to its "
              "writable_roots" % os.path.realpath(spool), file=sys.stderr)
    else:
        lines += ["[sandbox_workspace_write]",
                  "writable_roots = [%s]" % toml_str(os.path.realpath(spool)), ""]
lines.append(END)
text = (rest + "\n\n" if rest else "") + "\n".join(lines) + "\n"
tomllib.loads(text)  # never leave Codex a file it cannot read
save(config_path, text)
PY

# Login with an API key: the key is read by `codex login` from its standard input, never from
# an argument, and kept in $CODEX_HOME/auth.json (mode 0600), where OpenAI's own provider finds
# it; a custom provider with `env_key` does not need it.
if [ -n "${OPENAI_API_KEY:-}" ]; then
    [ -n "$codex_bin" ] || codex_bin=$(command -v codex || true)
    [ -n "$codex_bin" ] && [ -x "$codex_bin" ] || {
        echo "install.sh: OPENAI_API_KEY is set but there is no codex to log in with (--codex-bin)" >&2
        exit 1
    }
    printf '%s' "$OPENAI_API_KEY" | CODEX_HOME="$codex_home" "$codex_bin" login --with-api-key \
        >/dev/null 2>&1 || { echo "install.sh: codex login --with-api-key failed" >&2; exit 1; }
    echo "Codex logged in with the API key from OPENAI_API_KEY ($codex_home/auth.json)"
fi

echo "Paliadin instructions in $codex_home/AGENTS.md; $hook_bin registered in $codex_home/config.toml"
