//! Renders a binary's clap definition as Markdown: one table per (sub)command listing each
//! setting's flag, environment variable, default and meaning. `docs/configuration.md` is made
//! of these tables, so it is generated from the code and cannot drift from it.

use clap::{Arg, ArgAction, Command};
use std::fmt::Write;

/// The Markdown reference of `cmd` and its visible subcommands, under a `##` heading named
/// `title`. Deterministic: same definitions, same text.
pub fn render(title: &str, cmd: &Command) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {title}\n");
    if let Some(about) = cmd.get_about() {
        let _ = writeln!(out, "{}\n", one_line(&about.to_string()));
    }
    section(&mut out, cmd, cmd.get_name());
    out
}

fn section(out: &mut String, cmd: &Command, path: &str) {
    let args: Vec<&Arg> = cmd.get_arguments().filter(|a| shown(a)).collect();
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !args.is_empty() {
        let _ = writeln!(out, "`{path}`{}:\n", scope(cmd, !subs.is_empty()));
        let _ = writeln!(out, "| flag | env | default | meaning |");
        let _ = writeln!(out, "|---|---|---|---|");
        for a in args {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                flag(a),
                a.get_env()
                    .map(|e| format!("`{}`", e.to_string_lossy()))
                    .unwrap_or_else(|| "—".into()),
                default(a),
                cell(&meaning(a)),
            );
        }
        out.push('\n');
    }
    for sub in subs {
        let sub_path = format!("{path} {}", sub.get_name());
        let has_args = sub.get_arguments().any(shown);
        if !has_args && sub.get_subcommands().next().is_none() {
            let about = sub.get_about().map(|a| one_line(&a.to_string()));
            let _ = writeln!(
                out,
                "`{sub_path}`: no settings of its own. {}\n",
                about.unwrap_or_default()
            );
            continue;
        }
        section(out, sub, &sub_path);
    }
}

/// Whether the table above covers every subcommand too (clap `global` arguments).
fn scope(cmd: &Command, has_subs: bool) -> &'static str {
    if has_subs && cmd.get_arguments().any(|a| shown(a) && a.is_global_set()) {
        " (before or after any subcommand)"
    } else {
        ""
    }
}

fn shown(a: &Arg) -> bool {
    !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version")
}

fn flag(a: &Arg) -> String {
    match (a.get_long(), a.get_short()) {
        (Some(l), Some(s)) => format!("`-{s}`, `--{l}`"),
        (Some(l), None) => format!("`--{l}`"),
        (None, Some(s)) => format!("`-{s}`"),
        (None, None) => format!("`<{}>`", a.get_id().as_str().to_uppercase()),
    }
}

fn default(a: &Arg) -> String {
    let values: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !values.is_empty() {
        return values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
    }
    if matches!(a.get_action(), ArgAction::SetTrue) {
        return "`false`".into();
    }
    if a.is_required_set() {
        "required".into()
    } else {
        "unset".into()
    }
}

fn meaning(a: &Arg) -> String {
    let help = a
        .get_long_help()
        .or_else(|| a.get_help())
        .map(|h| one_line(&h.to_string()))
        .unwrap_or_default();
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if values.is_empty() || matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        help
    } else {
        let stop = if help.is_empty() || help.ends_with('.') {
            ""
        } else {
            "."
        };
        format!("{help}{stop} One of {}.", values.join(", "))
            .trim_start()
            .to_string()
    }
}

/// Joins wrapped doc-comment lines into one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes what would end a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    /// A demo tool.
    #[allow(dead_code)]
    #[derive(Parser)]
    #[command(name = "demo", about = "A demo tool")]
    struct Demo {
        /// Where to
        /// connect.
        #[arg(long, env = "DEMO_URL", global = true)]
        url: Option<String>,
        #[command(subcommand)]
        cmd: Sub,
    }

    #[allow(dead_code)]
    #[derive(Subcommand)]
    enum Sub {
        /// Run it.
        Run {
            /// How many | at once.
            #[arg(long, env = "DEMO_N", default_value_t = 4)]
            n: u32,
            /// Be loud.
            #[arg(long)]
            loud: bool,
        },
        /// Check it.
        Check,
    }

    #[test]
    fn renders_flags_env_defaults_and_subcommands() {
        let text = render("demo", &Demo::command());
        assert!(
            text.contains("`demo` (before or after any subcommand):"),
            "{text}"
        );
        assert!(
            text.contains("| `--url` | `DEMO_URL` | unset | Where to connect |"),
            "{text}"
        );
        assert!(
            text.contains("| `--n` | `DEMO_N` | `4` | How many \\| at once |"),
            "{text}"
        );
        assert!(
            text.contains("| `--loud` | — | `false` | Be loud |"),
            "{text}"
        );
        assert!(
            text.contains("`demo check`: no settings of its own. Check it"),
            "{text}"
        );
    }
}
