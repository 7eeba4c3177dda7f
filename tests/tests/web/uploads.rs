//! Files from the page in headless Chromium, with the real API, a worker process and the demo
//! agent: a file picked in the composer is uploaded and shown as a chip with its thumbnail, goes
//! with the message (the demo agent's `/echo` shows the path the envelope named), appears as a
//! thumbnail in the sent message, again after a reload, and at phone width inside the thread
//! (the thumbnail) and the composer (the paperclip); a pasted screenshot, a dropped file and a
//! photo from the camera's input go with one message and reach the agent's working directory.

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

/// Script: pastes an unnamed screenshot (`image.png`, as browsers name one) into the composer,
/// drops a text file on the page and takes a photo through the camera's input (what a phone's
/// camera hands the page).
const PASTE_DROP_CAMERA: &str = "
const bytes = new Uint8Array(arguments[0]);
const pasted = new DataTransfer();
pasted.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
const input = document.getElementById('composer-input');
input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: pasted, bubbles: true, cancelable: true }));
const dropped = new DataTransfer();
dropped.items.add(new File(['dropped notes\\n'], 'notes.txt', { type: 'text/plain' }));
document.body.dispatchEvent(new DragEvent('dragover', { dataTransfer: dropped, bubbles: true, cancelable: true }));
const highlighted = document.getElementById('composer-wrap').classList.contains('dropping');
document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dropped, bubbles: true, cancelable: true }));
const photo = new DataTransfer();
photo.items.add(new File([bytes], 'photo.png', { type: 'image/png' }));
const cam = document.getElementById('camera-input');
cam.files = photo.files;
cam.dispatchEvent(new Event('change'));
return [highlighted, cam.getAttribute('accept'), cam.getAttribute('capture')];";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pasted_dropped_and_photographed_files_go_with_the_message() {
    if !enabled("pasted_dropped_and_photographed_files_go_with_the_message") {
        return;
    }
    let mut site = DemoSite::start("web-up-w3").await;
    let workdir = site.rig.spool.parent().unwrap().join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    site.worker = site.rig.worker_with(
        &site.db.url,
        "web-up-w4",
        &[("PALIADIN_WORKDIR", workdir.to_str().unwrap())],
    );
    let b = Browser::start("uploads-paste").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    let got = b
        .js_with(PASTE_DROP_CAMERA, vec![serde_json::json!(PNG)])
        .await;
    assert_eq!(
        got,
        serde_json::json!([true, "image/*", "environment"]),
        "a drag of files highlights the composer; the camera input asks for a photo"
    );
    let names = b
        .until(
            15,
            "three ready chips",
            "const c = [...document.querySelectorAll('#attachments li')]; return c.length === 3 && c.every(x => x.dataset.state === 'ready') && c.map(x => x.textContent)",
        )
        .await;
    let names: Vec<String> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    assert!(
        names[0].contains("pasted-") && names[0].contains(".png"),
        "a pasted screenshot gets a useful name: {names:?}"
    );
    assert!(names[1].contains("notes.txt"), "{names:?}");
    assert!(names[2].contains("photo.png"), "{names:?}");
    send_text(&b, "/echo three files").await;
    let done = format!(
        "const r = {R}; return r.length && r[r.length - 1].querySelector('.body.rendered') && r[r.length - 1].textContent"
    );
    let reply = b.until(30, "the reply", &done).await;
    let reply = reply.as_str().unwrap();
    for part in [
        "/pasted-",
        "/notes.txt (text/plain, 14 bytes)",
        "/photo.png (image/png, ",
    ] {
        assert!(reply.contains(part), "the envelope named {part}: {reply}");
    }
    let turn: String = sqlx::query_scalar(
        "SELECT id::text FROM turns WHERE kind = 'message' ORDER BY queued_at DESC LIMIT 1",
    )
    .fetch_one(&site.db.pool)
    .await
    .unwrap();
    let dir = workdir.join("uploads").join(&turn);
    assert_eq!(
        std::fs::read(dir.join("notes.txt")).unwrap(),
        b"dropped notes\n"
    );
    assert_eq!(std::fs::read(dir.join("photo.png")).unwrap(), PNG);
    b.close().await;
}
