"""Shared helpers for the Paliadin Claude Code hooks (python3 standard library only).

The hooks implement the agent side of docs/agent-protocol.md for Claude Code:
  user-prompt-submit  acks a `[PALIADIN:<turn_id>] ` prompt and remembers the pending turn
  post-tool-use       reports tool use as activity events; publishes a finished .md.tmp
  stop                makes sure the pending turn gets its .md (see docs/claude-code.md)

Per Claude session the pending turn lives in `<spool>/.pending-<session_id>` as JSON
{"turn_id": "...", "stop_blocks": 0}. While Claude works on a prompt, `<spool>/.busy-<tmux
session>` exists (tmux session from `PALIADIN_SESSION`): the worker never pastes the next turn
before it is gone. A hook never fails Claude: errors go to stderr and the hook exits 0.
"""

import datetime
import json
import os
import stat
import re
import sys

ENVELOPE = re.compile(
    r"\s*(?:/paliadin\s+)?\[PALIADIN:"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\] "
)
TRAILER_LINE = re.compile(r"<!-- paliadin \{.*\} -->")
FALLBACK_TRAILER = (
    '<!-- paliadin {"used_tools":[],"rows_seen":0,"chip_count":0,'
    '"classifier_tag":"fallback"} -->'
)
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
TMUX_SESSION = re.compile(r"[A-Za-z0-9_.-]{1,80}")


def main(handler):
    """Runs `handler(event, spool)`; prints what it returns (a dict as JSON); always exits 0."""
    try:
        raw = sys.stdin.read()
        event = json.loads(raw) if raw.strip() else {}
        spool = spool_dir()
        if spool is None or not isinstance(event, dict):
            return
        out = handler(event, spool)
        if out is not None:
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    except Exception as e:  # never break the agent because of a hook
        sys.stderr.write("paliadin hook: %s: %s\n" % (type(e).__name__, e))
    sys.exit(0)


def spool_dir():
    """The spool directory, created 0700 if missing; refused (an exception) unless it is a real
    directory, owned by this user and writable by no one else (docs/security.md)."""
    d = os.environ.get("PALIADIN_SPOOL_DIR", "")
    if not d:
        return None
    d = os.path.abspath(d)
    os.makedirs(d, mode=0o700, exist_ok=True)
    st = os.lstat(d)
    why = None
    if stat.S_ISLNK(st.st_mode):
        why = "it is a symbolic link"
    elif not stat.S_ISDIR(st.st_mode):
        why = "it is not a directory"
    elif st.st_uid != os.getuid():
        why = "it is owned by uid %d, not by this user (uid %d)" % (st.st_uid, os.getuid())
    elif st.st_mode & 0o022:
        why = "it is writable by group or others (mode %o; use 0700)" % (st.st_mode & 0o7777)
    if why:
        raise PermissionError("refusing the spool directory %s: %s" % (d, why))
    return d


def turn_path(spool, turn_id, ext):
    return os.path.join(spool, "%s.%s" % (turn_id, ext))


def concluded(spool, turn_id):
    """True once the turn needs nothing more from Claude: its reply is published (in the spool
    or already moved to `done/` by the worker), or the worker has concluded the turn and
    removed its receipt (`.ack`, written by the prompt hook when the turn was submitted)."""
    name = "%s.md" % turn_id
    if os.path.exists(os.path.join(spool, name)):
        return True
    if os.path.exists(os.path.join(spool, "done", name)):
        return True
    return not os.path.exists(turn_path(spool, turn_id, "ack"))


def busy_path(spool):
    """`<spool>/.busy-<tmux session>`, or None outside a Paliadin session."""
    session = os.environ.get("PALIADIN_SESSION", "")
    if not TMUX_SESSION.fullmatch(session):
        return None
    return os.path.join(spool, ".busy-" + session)


def set_busy(spool, turn_id):
    path = busy_path(spool)
    if path is not None:
        write_atomic(path, "%s %s\n" % (turn_id, now()))


def clear_busy(spool):
    """Claude may stop: the busy marker goes, and `<spool>/.stopped-<tmux session>` says that
    it has just stopped. Claude is not ready for the next prompt when its Stop hook exits (it
    still finishes the turn, and text that arrives then is queued into that work), so the
    worker lets its screen settle before the next paste whenever this file is there, even when
    the marker was already gone when it looked (a reply the Stop hook itself wrote)."""
    path = busy_path(spool)
    if path is not None:
        write_atomic(stopped_path(path), "%s\n" % now())
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def stopped_path(busy):
    head, name = os.path.split(busy)
    return os.path.join(head, ".stopped-" + name[len(".busy-"):])


def pending_path(spool, event):
    session = str(event.get("session_id", ""))
    if not SESSION_ID.fullmatch(session):
        return None
    return os.path.join(spool, ".pending-" + session)


def read_pending(spool, event):
    """The pending turn of this Claude session, or None."""
    path = pending_path(spool, event)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            pending = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(pending, dict) or not ENVELOPE.fullmatch(
        "[PALIADIN:%s] " % pending.get("turn_id", "")
    ):
        return None
    return pending


def write_pending(spool, event, pending):
    path = pending_path(spool, event)
    if path is not None:
        write_atomic(path, json.dumps(pending) + "\n")


def clear_pending(spool, event):
    path = pending_path(spool, event)
    if path is not None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def append(path, text):
    """Appends in one write, so concurrent readers never see half a line."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def write_atomic(path, text):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def now():
    return (
        datetime.datetime.now(datetime.timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def activity_line(text):
    line = {"type": "activity", "text": text}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def has_trailer(text):
    """True when the last non-blank line of `text` looks like a reply trailer."""
    lines = text.rstrip().split("\n")
    return bool(lines) and TRAILER_LINE.fullmatch(lines[-1].strip()) is not None


def publish_tmp(spool, turn_id):
    """Renames a finished `<turn_id>.md.tmp` (one that ends with a trailer) to `.md`."""
    tmp = turn_path(spool, turn_id, "md.tmp")
    try:
        with open(tmp, encoding="utf-8") as f:
            text = f.read()
    except (OSError, ValueError):
        return False
    if not has_trailer(text):
        return False
    os.replace(tmp, turn_path(spool, turn_id, "md"))
    return True
