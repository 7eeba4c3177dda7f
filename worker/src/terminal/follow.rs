//! Following one terminal view: look at the owner's pane at the pace of [`super::pace`],
//! publish a frame whenever what it shows changed (or why it cannot be shown), and stop when
//! the view is closed, its lease runs out, another worker holds it, or the worker stops.

use super::pace;
use crate::runtime::Ctx;
use paliadin_shared::SessionName;
use paliadin_shared::db::terminal::{self, Claimed, MAX_PROBLEM_BYTES, Shown};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Follows `view` until it ends; `wake` rings when a notification names it (closed, or handed
/// to another worker): it is checked at once.
pub async fn follow(ctx: &Ctx, view: Claimed, wake: &Notify, stop: &CancellationToken) {
    let id = view.id;
    let session = match checked_session(ctx, &view) {
        Ok(s) => s,
        Err(why) => {
            tracing::warn!(view = %id, reason = %why, "refusing a terminal view");
            let _ = publish(ctx, &view, &Shown::Problem(&why)).await;
            return;
        }
    };
    let driver = match ctx.drivers.get(&view.host).cloned() {
        Some(d) => d,
        None => return,
    };
    tracing::info!(view = %id, session = %session, "terminal view: following the pane");
    let mut last: Option<Vec<u8>> = None;
    let mut written = Instant::now();
    let mut next = Instant::now();
    let why = loop {
        tokio::select! {
            _ = stop.cancelled() => break "the worker stops",
            _ = wake.notified() => {
                if !still_wanted(ctx, &view).await { break "the view was closed or handed over"; }
                continue;
            }
            _ = tokio::time::sleep_until(next) => {}
        }
        let looked = driver.pane(view.owner_id, &session).await;
        let (key, bytes, problem) = match &looked {
            Ok(p) => {
                let mut key =
                    format!("{} {} {} {}\n", p.cols, p.rows, p.cursor_x, p.cursor_y).into_bytes();
                key.extend_from_slice(p.screen.as_bytes());
                (key, p.screen.len(), false)
            }
            Err(e) => (format!("!{e}").into_bytes(), 0, true),
        };
        let now = Instant::now();
        if last.as_deref() != Some(key.as_slice()) {
            let shown_problem;
            let shown = match &looked {
                Ok(p) => Shown::Screen {
                    text: &p.screen,
                    cols: p.cols.into(),
                    rows: p.rows.into(),
                    cursor_x: p.cursor_x.into(),
                    cursor_y: p.cursor_y.into(),
                },
                Err(e) => {
                    shown_problem = problem_text(&e.to_string());
                    Shown::Problem(&shown_problem)
                }
            };
            if !publish(ctx, &view, &shown).await {
                break "the view is no longer this worker's";
            }
            last = Some(key);
            written = now;
        } else if now.duration_since(written) >= pace::BEAT {
            if !still_wanted(ctx, &view).await {
                break "the view was closed or handed over";
            }
            written = now;
        }
        next = Instant::now()
            + if problem {
                pace::RETRY
            } else {
                pace::after_frame(bytes)
            };
    };
    tracing::info!(view = %id, reason = why, "terminal view: stopped following");
}

/// The view's session, if it is one of this worker's (its prefix): a row names the session
/// the API looked up, but a worker only ever looks at its own agents' panes.
fn checked_session(ctx: &Ctx, view: &Claimed) -> Result<SessionName, String> {
    let name = SessionName::parse(&view.session_name).map_err(|e| e.0)?;
    if !name.has_prefix(&ctx.prefix) {
        return Err("the session is not one of this worker's".into());
    }
    Ok(name)
}

/// Stores a frame; `false` when the view is no longer this worker's to serve.
async fn publish(ctx: &Ctx, view: &Claimed, shown: &Shown<'_>) -> bool {
    match terminal::publish(&ctx.pool, view.id, &ctx.worker_id, shown).await {
        Ok(Some(_)) => true,
        Ok(None) => false,
        Err(e) => {
            // The database is away: keep looking, the next change is tried again. The API
            // hands the view to another worker if this one stays silent.
            tracing::warn!(view = %view.id, error = %e, "cannot store a terminal frame");
            true
        }
    }
}

async fn still_wanted(ctx: &Ctx, view: &Claimed) -> bool {
    terminal::beat(&ctx.pool, view.id, &ctx.worker_id)
        .await
        .unwrap_or(true)
}

/// Why the pane cannot be shown, bounded, one line, no control characters.
fn problem_text(why: &str) -> String {
    let clean: String = why
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut end = clean.len().min(MAX_PROBLEM_BYTES);
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    clean[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_one_bounded_line() {
        let long = format!("a\nb\x1b{}", "é".repeat(400));
        let p = problem_text(&long);
        assert!(p.len() <= MAX_PROBLEM_BYTES);
        assert!(!p.chars().any(char::is_control));
        assert!(p.starts_with("a b "));
    }
}
