//! A compaction shows on the page: while the agent compacts its conversation (the demo agent's
//! `/compact`, which writes the status lines Claude Code's `PreCompact` and `PostCompact` hooks
//! write), the running reply's status reads "Compacting the conversation…"; the turn then ends
//! with its reply and the status goes. In headless Chromium with the real API, a worker process
//! and the demo agent; the compacting state passes axe-core.

use paliadin_e2e::axe::{self, Allowed};
use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::{DemoSite, send_text};

const ALLOW: &[Allowed] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compaction_shows_as_the_replys_status_and_then_the_reply() {
    let src = axe::source();
    if !enabled("a_compaction_shows_as_the_replys_status_and_then_the_reply") {
        return;
    }
    let site = DemoSite::start("compact-w1").await;
    let b = Browser::start("compaction").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    // Long enough for the page to show the state and axe to scan it; the test waits on the
    // page, never on this duration.
    send_text(&b, "/compact 6000").await;
    let shown = b
        .until(
            20,
            "the compacting status",
            &format!(
                "const r = {R}; const s = r.length && r[r.length - 1].querySelector('.status'); \
                 return s && !s.hidden && s.dataset.state === 'compacting' && s.textContent"
            ),
        )
        .await;
    assert_eq!(shown, "Compacting the conversation…");
    let mut found = Vec::new();
    axe::scan_all(&b, &src, "compacting", ALLOW, &mut found).await;
    let done = b
        .until(
            30,
            "the reply after the compaction",
            &format!(
                "const r = {R}; const m = r[r.length - 1]; const s = m.querySelector('.status'); \
                 return m.querySelector('.body.rendered') && (!s || s.hidden) && m.querySelector('.body').textContent.trim()"
            ),
        )
        .await;
    assert_eq!(done, "Compacted the conversation in 6000 ms.");
    assert!(found.is_empty(), "{}", found.join("\n"));
    b.close().await;
}
