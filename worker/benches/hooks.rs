//! How long Claude Code waits for each Paliadin hook: every hook run `PALIADIN_BENCH_N` times
//! (default 50) with a realistic input against a real spool, as a process per run exactly as
//! Claude Code starts it, timed from spawn to exit (the input written, the output read). Prints
//! p50/p95/max per hook for the compiled `paliadin-hook`, and, for comparison, for the Python
//! hooks it replaced (taken from git history into a temporary directory: with Debian's python3,
//! `PATH=/usr/bin:/bin`, and with the first `python3` on this PATH). Figures only, never
//! assertions (docs/performance.md, "Hooks"):
//!
//! ```sh
//! cargo bench --profile dev -p paliadin-worker --bench hooks
//! ```
//!
//! The inputs: a pending turn (its `.ack` written), `UserPromptSubmit` with an envelope; a
//! `Bash` tool call with 4 KiB of output (`PostToolUse`); a `Stop` after the reply was published
//! (the usual stop); a `PermissionRequest` whose decision is already there (the hook's own cost,
//! not the person's). `PALIADIN_BENCH_PYTHON=0` skips the Python rows.

use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const TURN: &str = "0123abcd-0000-4000-8000-00000000beef";
const SESSION: &str = "9f0c2a1e-5b7d-4c3e-8f21-6a4d0b9e7c55";
const TMUX_SESSION: &str = "paliadin-0123abcd";
const HOOKS: [&str; 4] = [
    "user-prompt-submit",
    "post-tool-use",
    "stop",
    "permission-request",
];

/// The command for a hook: program and arguments.
type Argv = Box<dyn Fn(&str) -> Vec<String>>;

/// One way to run the hooks.
struct Program {
    label: String,
    argv: Argv,
    /// `PATH` for the run (the Python hooks start with `#!/usr/bin/env python3`).
    path: String,
}

struct Scene {
    dir: PathBuf,
    spool: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = std::env::temp_dir().join(format!("paliadin-hook-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let spool = dir.join("spool");
        Scene { dir, spool }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.spool.join(name)
    }

    fn reset(&self) {
        let _ = std::fs::remove_dir_all(&self.spool);
        std::fs::create_dir_all(&self.spool).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.spool, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    /// A turn in progress: submitted (`.ack`), pending for this Claude session, busy.
    fn pending_turn(&self) {
        self.reset();
        std::fs::write(
            self.file(&format!("{TURN}.ack")),
            "2026-12-06T00:00:00.000Z user-prompt-submit session=x\n",
        )
        .unwrap();
        std::fs::write(
            self.file(&format!(".pending-{SESSION}")),
            format!("{{\"turn_id\": \"{TURN}\", \"stop_blocks\": 0}}\n"),
        )
        .unwrap();
        std::fs::write(self.file(&format!(".busy-{TMUX_SESSION}")), "x\n").unwrap();
    }

    /// Brings the spool to the state `hook` finds in a real turn; returns its input.
    fn prepare(&self, hook: &str) -> Value {
        let common = json!({
            "session_id": SESSION,
            "transcript_path": self.dir.join("transcript.jsonl"),
            "cwd": "/srv/app",
            "permission_mode": "default",
        });
        let mut input = common.as_object().unwrap().clone();
        let extra = match hook {
            "user-prompt-submit" => {
                self.reset();
                json!({"hook_event_name": "UserPromptSubmit", "prompt_id": "p1",
                       "prompt": format!("[PALIADIN:{TURN}] Which files changed since yesterday, and why?")})
            }
            "post-tool-use" => {
                self.pending_turn();
                let listing: String = (0..64)
                    .map(|i| {
                        format!("-rw-r--r-- 1 app app  {i:>5} Dec  6 10:{i:02} file-{i:03}.rs\n")
                    })
                    .collect();
                json!({"hook_event_name": "PostToolUse", "tool_name": "Bash",
                       "tool_input": {"command": "ls -la /srv/app/src && git status --short",
                                      "description": "List the source files"},
                       "tool_response": {"stdout": listing, "stderr": "", "interrupted": false,
                                         "isImage": false},
                       "tool_use_id": "toolu_01AbCdEf", "duration_ms": 14})
            }
            "stop" => {
                self.pending_turn();
                let reply = "Three files changed.\n<!-- paliadin {\"used_tools\":[\"Bash\"],\"rows_seen\":3,\"chip_count\":0,\"classifier_tag\":\"code\"} -->\n";
                std::fs::write(self.file(&format!("{TURN}.md")), reply).unwrap();
                json!({"hook_event_name": "Stop", "stop_hook_active": false,
                       "last_assistant_message": format!("Replied to Paliadin turn {TURN}.")})
            }
            "permission-request" => {
                self.pending_turn();
                std::fs::write(
                    self.file(&format!("{TURN}.perm-1.decision")),
                    r#"{"decision":"allow","by":"owner"}"#,
                )
                .unwrap();
                json!({"hook_event_name": "PermissionRequest", "tool_name": "Bash",
                       "tool_input": {"command": "touch /srv/app/NOTES", "description": "Create notes"},
                       "permission_suggestions": [{"type": "addRules", "behavior": "allow",
                           "rules": [{"toolName": "Bash", "ruleContent": "touch:*"}],
                           "destination": "localSettings"}]})
            }
            other => panic!("no hook {other}"),
        };
        input.extend(extra.as_object().unwrap().clone());
        Value::Object(input)
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One run: spawn, write the input, read the output, wait. Seconds.
fn run_once(program: &Program, hook: &str, input: &[u8], scene: &Scene) -> f64 {
    let argv = (program.argv)(hook);
    let started = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env("PATH", &program.path)
        .env("PALIADIN_SPOOL_DIR", &scene.spool)
        .env("PALIADIN_SESSION", TMUX_SESSION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", argv[0]));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed().as_secs_f64();
    // Sanity, not timing: the hook did its work without complaint.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{} {hook}: {out:?}",
        program.label
    );
    took
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The Python hooks from the last commit that had them, written to `dir`; `None` outside a
/// git checkout.
fn python_hooks(dir: &Path) -> Option<String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let probe = "deploy/skill/hooks/paliadin_hooks.py";
    let removed = git(&["log", "-1", "--format=%H", "--diff-filter=D", "--", probe])?;
    let removed = String::from_utf8_lossy(&removed.stdout).trim().to_owned();
    let commit = if removed.is_empty() {
        "HEAD".to_owned()
    } else {
        format!("{removed}^")
    };
    std::fs::create_dir_all(dir).ok()?;
    for name in HOOKS.iter().copied().chain(["paliadin_hooks.py"]) {
        let out = git(&["show", &format!("{commit}:deploy/skill/hooks/{name}")])?;
        let path = dir.join(name);
        std::fs::write(&path, out.stdout).ok()?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).ok()?;
    }
    let short = git(&["rev-parse", "--short", &commit])?;
    Some(String::from_utf8_lossy(&short.stdout).trim().to_owned())
}

fn which(program: &str, path: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn main() {
    let n: usize = std::env::var("PALIADIN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .max(1);
    let scene = Scene::new();
    let inherited = std::env::var("PATH").unwrap_or_default();
    let bin = env!("CARGO_BIN_EXE_paliadin-hook").to_owned();
    let mut programs = vec![Program {
        label: "paliadin-hook".to_owned(),
        argv: Box::new(move |hook| vec![bin.clone(), hook.to_owned()]),
        path: "/usr/bin:/bin".to_owned(),
    }];
    let python_dir = scene.dir.join("python-hooks");
    let wanted = std::env::var("PALIADIN_BENCH_PYTHON").map_or(true, |v| v != "0");
    match wanted.then(|| python_hooks(&python_dir)).flatten() {
        Some(commit) => {
            for path in ["/usr/bin:/bin".to_owned(), inherited.clone()] {
                let Some(python) = which("python3", &path) else {
                    continue;
                };
                let dir = python_dir.clone();
                let label = format!("python ({commit}) {}", python.display());
                if programs.iter().any(|p| p.label == label) {
                    continue;
                }
                programs.push(Program {
                    label,
                    argv: Box::new(move |hook| vec![dir.join(hook).display().to_string()]),
                    path,
                });
            }
        }
        None if wanted => println!("(no Python hooks in this checkout's history: compiled only)"),
        None => {}
    }
    println!(
        "{n} runs per row, spawn to exit; spool {}",
        scene.spool.display()
    );
    println!(
        "{:<20} {:<52} {:>8} {:>8} {:>8}",
        "hook", "program", "p50 ms", "p95 ms", "max ms"
    );
    for hook in HOOKS {
        for program in &programs {
            let input = scene.prepare(hook).to_string().into_bytes();
            run_once(program, hook, &input, &scene); // warm the page cache
            let mut samples: Vec<f64> = (0..n)
                .map(|_| {
                    let input = scene.prepare(hook).to_string().into_bytes();
                    run_once(program, hook, &input, &scene)
                })
                .collect();
            samples.sort_by(f64::total_cmp);
            println!(
                "{:<20} {:<52} {:>8.2} {:>8.2} {:>8.2}",
                hook,
                program.label,
                percentile(&samples, 0.5) * 1e3,
                percentile(&samples, 0.95) * 1e3,
                samples[samples.len() - 1] * 1e3
            );
        }
    }
}
