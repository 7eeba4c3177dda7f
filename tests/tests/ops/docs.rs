//! The documentation cites nothing that is not there: every relative link of `README.md`,
//! `CONTRIBUTING.md` and `docs/**/*.md` names a file of the repository (and, for a Markdown
//! file, a heading that exists when it has a `#fragment`), and every Rust path cited in code
//! spans (`` `shared::trust` ``, `` `pipeline::lease::a_panic_in_a_turn_stops_its_heartbeat` ``,
//! `` `TurnQueue::ensure` ``) names an item defined in the workspace. A test binary's name
//! (`tests/tests/<binary>/`, `worker/tests/<binary>`) starts a test path: its modules are files
//! and its last segment a test function. Paths into external crates (`tokio::`, `sqlx::`, …)
//! are not checked. A cited name may end in `…` (a prefix) or be `{a, b}` (each checked).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const EXTERNAL: &[&str] = &[
    "std",
    "core",
    "alloc",
    "tokio",
    "sqlx",
    "serde",
    "serde_json",
    "axum",
    "futures",
    "pgmq",
    "tracing",
    "hyper",
    "reqwest",
    "uuid",
    "chrono",
    "clap",
    "anyhow",
    "thiserror",
    "tower",
    "fantoccini",
    "proptest",
    "utoipa",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | ".dev" | "node_modules") {
                walk(&p, ext, out);
            }
        } else if name.ends_with(ext) {
            out.push(p);
        }
    }
}

fn markdown_files() -> Vec<PathBuf> {
    let root = repo();
    let mut files = vec![root.join("README.md")];
    let contributing = root.join("CONTRIBUTING.md");
    if contributing.exists() {
        files.push(contributing);
    }
    walk(&root.join("docs"), ".md", &mut files);
    files
}

/// The text with fenced code blocks removed, and the inline code spans collected apart.
fn split_code(text: &str) -> (String, Vec<String>) {
    let mut prose = String::new();
    let mut spans = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(open) = rest.find('`') {
            prose.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('`') {
                Some(close) => {
                    spans.push(after[..close].to_string());
                    rest = &after[close + 1..];
                }
                None => {
                    rest = after;
                    break;
                }
            }
        }
        prose.push_str(rest);
        prose.push('\n');
    }
    (prose, spans)
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(md: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(md).unwrap_or_default();
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#').replace('`', "").as_str()));
        }
    }
    out
}

/// `(target)` of every `[text](target)` in the prose.
fn link_targets(prose: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = prose;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_names_a_file_and_heading_that_exist() {
    let mut dead = Vec::new();
    for md in markdown_files() {
        let text = std::fs::read_to_string(&md).expect("read doc");
        let (prose, _) = split_code(&text);
        for target in link_targets(&prose) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                md.clone()
            } else {
                md.parent().expect("doc dir").join(path)
            };
            let shown = format!("{}: ({target})", md.display());
            if !file.exists() {
                dead.push(format!("{shown}: no such file"));
                continue;
            }
            if let Some(f) = fragment
                && file.extension().is_some_and(|e| e == "md")
                && !anchors(&file).contains(f)
            {
                dead.push(format!("{shown}: no heading with that anchor"));
            }
        }
    }
    assert!(
        dead.is_empty(),
        "dead links in the docs:\n{}",
        dead.join("\n")
    );
}

struct Workspace {
    /// Every `.rs` file, relative to the repository, with its text.
    sources: Vec<(String, String)>,
    /// `tests/tests/<binary>` and `worker/tests/<binary>` roots by binary name.
    test_roots: Vec<(String, PathBuf)>,
}

impl Workspace {
    fn load() -> Self {
        let root = repo();
        let mut files = Vec::new();
        for krate in ["shared", "api", "worker", "demo-agent", "tests"] {
            walk(&root.join(krate), ".rs", &mut files);
        }
        let sources = files
            .iter()
            .map(|f| {
                let rel = f.strip_prefix(&root).expect("in repo");
                (
                    rel.to_string_lossy().into_owned(),
                    std::fs::read_to_string(f).unwrap_or_default(),
                )
            })
            .collect();
        let mut test_roots = Vec::new();
        for dir in ["tests/tests", "worker/tests", "demo-agent/tests"] {
            for e in std::fs::read_dir(root.join(dir))
                .expect("tests dir")
                .flatten()
            {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if p.is_dir() && p.join("main.rs").exists() {
                    test_roots.push((name, p));
                } else if let Some(stem) = name.strip_suffix(".rs") {
                    test_roots.push((stem.to_string(), p));
                }
            }
        }
        Workspace {
            sources,
            test_roots,
        }
    }

    fn text_of(&self, path: &Path) -> Option<&str> {
        let rel = path
            .strip_prefix(repo())
            .ok()?
            .to_string_lossy()
            .into_owned();
        self.sources
            .iter()
            .find(|(p, _)| *p == rel)
            .map(|(_, t)| t.as_str())
    }

    /// `name` is defined in `text` (as a prefix when it ends in `…`).
    fn defines(text: &str, name: &str) -> bool {
        let (name, prefix) = match name.strip_suffix('…') {
            Some(n) => (n, true),
            None => (name, false),
        };
        const KINDS: &[&str] = &[
            "fn ",
            "struct ",
            "enum ",
            "trait ",
            "type ",
            "const ",
            "static ",
            "mod ",
            "macro_rules! ",
        ];
        for kind in KINDS {
            let mut rest = text;
            while let Some(i) = rest.find(kind) {
                let after = &rest[i + kind.len()..];
                let ident: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if ident == name || (prefix && ident.starts_with(name)) {
                    return true;
                }
                rest = after;
            }
        }
        // An enum variant (`    Name,` / `    Name(` / `    Name {`) or a struct field
        // (`    pub name: T,`) at the start of a line.
        text.lines().any(|l| {
            let t = l.trim_start();
            let t = t
                .strip_prefix("pub(crate) ")
                .or_else(|| t.strip_prefix("pub "))
                .unwrap_or(t);
            t.strip_prefix(name).is_some_and(|r| {
                r.starts_with(',')
                    || r.starts_with('(')
                    || r.starts_with(" {")
                    || r.is_empty()
                    || (r.starts_with(':') && !r.starts_with("::"))
            })
        })
    }

    fn test_path_exists(&self, root: &Path, segs: &[&str]) -> bool {
        let (last, modules) = segs.split_last().expect("segments");
        let mut file = root.to_path_buf();
        if file.is_dir() {
            let mut dir = file.clone();
            file = dir.join("main.rs");
            for m in modules {
                let as_file = dir.join(format!("{m}.rs"));
                let as_dir = dir.join(m).join("mod.rs");
                file = if as_file.exists() { as_file } else { as_dir };
                dir = dir.join(m);
            }
        } else {
            // A single-file binary: inner modules (`mod tests { … }`) are in that file.
        }
        if *last == "*" {
            return file.exists();
        }
        self.text_of(&file).is_some_and(|t| Self::defines(t, last))
    }

    fn cited_path_exists(&self, cited: &str) -> bool {
        let segs: Vec<&str> = cited.split("::").collect();
        if EXTERNAL.contains(&segs[0]) {
            return true;
        }
        if let Some((_, root)) = self.test_roots.iter().find(|(n, _)| n == segs[0])
            && segs.len() > 1
            && self.test_path_exists(root, &segs[1..])
        {
            return true;
        }
        let segs: Vec<&str> = match segs[0] {
            "paliadin_shared" | "paliadin_worker" | "paliadin_api" | "paliadin_e2e" => {
                segs[1..].to_vec()
            }
            _ => segs,
        };
        let (last, before) = segs.split_last().expect("segments");
        let modules: Vec<&str> = before
            .iter()
            .copied()
            .filter(|s| s.starts_with(|c: char| c.is_lowercase()) && *s != "tests")
            .collect();
        let types: Vec<&str> = before
            .iter()
            .copied()
            .filter(|s| s.starts_with(|c: char| c.is_uppercase()))
            .collect();
        self.sources.iter().any(|(path, text)| {
            let parts: Vec<&str> = path
                .trim_end_matches(".rs")
                .split('/')
                .filter(|p| *p != "mod")
                .collect();
            // The modules appear in the file's path in order, ending at the file, or the
            // last of them is an inline `mod` of that file.
            let in_path = |mods: &[&str]| {
                mods.is_empty() || parts.ends_with(mods) || {
                    let mut it = parts.iter();
                    mods.iter().all(|m| it.any(|p| p == m)) && parts.last() == mods.last()
                }
            };
            let located = in_path(&modules)
                || modules.split_last().is_some_and(|(inner, outer)| {
                    in_path(outer) && text.contains(&format!("mod {inner}"))
                });
            // A module cited by itself: the file is that module.
            let is_module = types.is_empty() && *last != "*" && {
                let mut all = modules.clone();
                all.push(last);
                in_path(&all)
            };
            is_module
                || located
                    && types
                        .iter()
                        .all(|t| Self::defines(text, t) || text.contains(&format!("impl {t}")))
                    && (*last == "*" || Self::defines(text, last))
        })
    }
}

/// The Rust paths cited in a code span: `a::b::c`, `a::{b, c}`, `a::b::*`, `a::b_…`.
fn cited_paths(span: &str) -> Vec<String> {
    let span = span.trim();
    let span = span.split(['(', ' ']).next().unwrap_or_default();
    if !span.contains("::") {
        return Vec::new();
    }
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '…' || c == '*')
    };
    let full = span.to_string();
    if let Some((head, tail)) = full.split_once("::{") {
        let names = tail.trim_end_matches('}');
        return names
            .split(',')
            .map(|n| format!("{head}::{}", n.trim()))
            .filter(|p| p.split("::").all(ident_ok))
            .collect();
    }
    if full.split("::").all(ident_ok) {
        vec![full]
    } else {
        Vec::new()
    }
}

#[test]
fn every_rust_path_cited_in_the_docs_names_an_item_that_exists() {
    let ws = Workspace::load();
    let mut dangling = Vec::new();
    let mut checked = 0;
    for md in markdown_files() {
        let text = std::fs::read_to_string(&md).expect("read doc");
        let (_, spans) = split_code(&text);
        for span in spans {
            for cited in cited_paths(&span) {
                checked += 1;
                if !ws.cited_path_exists(&cited) {
                    dangling.push(format!("{}: `{cited}`", md.display()));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} cited paths found: is the parser broken?"
    );
    assert!(
        dangling.is_empty(),
        "cited in the docs but defined nowhere in the workspace:\n{}",
        dangling.join("\n")
    );
}

#[test]
fn the_checker_tells_a_real_item_from_an_invented_one() {
    let ws = Workspace::load();
    assert!(ws.cited_path_exists("pipeline::lease::release::a_stale_attempt_can_write_nothing"));
    assert!(ws.cited_path_exists("shared::trust"));
    assert!(ws.cited_path_exists("TurnQueue::ensure"));
    assert!(
        ws.cited_path_exists("TurnControl::abandon"),
        "a struct field"
    );
    assert!(
        ws.cited_path_exists("shared::render"),
        "a crate's directory, then a module"
    );
    assert!(!ws.cited_path_exists("pipeline::lease::a_test_nobody_wrote"));
    assert!(!ws.cited_path_exists("spool::no_such_function_anywhere"));
    assert!(!ws.cited_path_exists("NoSuchType::ensure"));
}
