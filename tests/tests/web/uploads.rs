//! Files from the page in headless Chromium, with the real API, a worker process and the demo
//! agent: a file picked in the composer is uploaded and shown as a chip with its thumbnail, goes
//! with the message (the demo agent's `/echo` shows the path the envelope named), appears as a
//! thumbnail in the sent message, again after a reload, and at phone width inside the thread
//! (the thumbnail) and the composer (the paperclip).

use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::{DemoSite, send_text};
use paliadin_e2e::uploads::PNG;

/// Script: puts a PNG named `shot.png` in the paperclip's file input, as a file picker does.
const PICK: &str = "
const bytes = new Uint8Array(arguments[0]);
const dt = new DataTransfer();
dt.items.add(new File([bytes], 'shot.png', { type: 'image/png' }));
const inp = document.getElementById('attach-input');
inp.files = dt.files;
inp.dispatchEvent(new Event('change'));";

/// Script: the sent message's thumbnail has loaded (a 1×1 image).
const SENT: &str = "const i = document.querySelector('#log .msg.user .uploads.sent img'); return !!i && i.complete && i.naturalWidth === 1 && i.alt";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_picked_image_is_sent_shown_and_replayed_on_desktop_and_phone() {
    if !enabled("a_picked_image_is_sent_shown_and_replayed_on_desktop_and_phone") {
        return;
    }
    let mut site = DemoSite::start("web-up-w1").await;
    // The files land in a directory of the rig's, not the worker's current one.
    let workdir = site.rig.spool.parent().unwrap().join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    site.worker = site.rig.worker_with(
        &site.db.url,
        "web-up-w2",
        &[("PALIADIN_WORKDIR", workdir.to_str().unwrap())],
    );
    let b = Browser::start("uploads").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;

    b.js_with(PICK, vec![serde_json::json!(PNG)]).await;
    b.until(
        15,
        "the chip with its thumbnail",
        "const c = document.querySelector('#attachments li[data-state=ready]'); return !document.getElementById('attachments').hidden && !!c && !!c.querySelector('img') && c.textContent.includes('shot.png')",
    )
    .await;
    send_text(&b, "/echo with a picture").await;
    let done = format!(
        "const r = {R}; return r.length && r[r.length - 1].querySelector('.body.rendered') && r[r.length - 1].textContent"
    );
    let reply = b.until(30, "the reply", &done).await;
    let reply = reply.as_str().unwrap();
    assert!(reply.contains("with a picture"), "{reply}");
    assert!(
        reply.contains("/shot.png (image/png, "),
        "the envelope named the file: {reply}"
    );
    assert_eq!(b.until(10, "the sent thumbnail", SENT).await, "shot.png");
    assert_eq!(
        b.js("return document.getElementById('attachments').hidden")
            .await,
        true,
        "the tray is empty once the message went"
    );

    // Replay after a reload, then at phone width.
    b.goto(&site.url("/paliadin")).await;
    assert_eq!(
        b.until(15, "the thumbnail after a reload", SENT).await,
        "shot.png"
    );
    b.client.set_window_size(390, 844).await.unwrap();
    b.until(10, "the phone width", "return window.innerWidth <= 420")
        .await;
    let visible = b
        .js("const r = document.querySelector('#log .msg.user .uploads.sent img').getBoundingClientRect(); const t = document.querySelector('#log').getBoundingClientRect(); const a = document.getElementById('attach').getBoundingClientRect(); const c = document.getElementById('composer').getBoundingClientRect(); return r.width > 0 && r.left >= t.left && r.right <= t.right + 1 && a.width >= 38 && a.left >= c.left && a.right <= c.right")
        .await;
    assert_eq!(visible, true, "thumbnail and paperclip fit a phone");
    b.close().await;
}
