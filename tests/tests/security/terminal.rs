//! The live terminal view's security (`GET /api/paliadin/conversations/{id}/terminal`): only the
//! conversation's owner sees it — another owner, a stranger, an unknown or malformed id and an
//! admin get the plain 404 of an unrouted path — unless `PALIADIN_ADMIN_TERMINAL=true`, when an
//! admin may look and the view is recorded; and the view never sends a byte to the pane (a
//! program reading the pane's input in raw mode receives nothing while it is watched, though it
//! would receive a single key); and a pane whose output floods is shown at a bounded pace: at
//! most 4 frames and 64 KiB a second.

use futures::StreamExt;
use paliadin_api::config::ApiConfig;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_e2e::terminal::{TermSys, next_screen, pane_tty, path, print_and_see};
use paliadin_shared::db::terminal;
use paliadin_shared::db::users::Role;
use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// `(status, body)` of a GET that must not stream.
async fn get(c: &Client, p: &str) -> (u16, serde_json::Value) {
    c.get(p).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_sees_the_terminal_everyone_else_gets_404() {
    let mut sys = TermSys::new(ApiConfig::default()).await;
    sys.start_worker("term-sec-1");
    let conversation = Uuid::new_v4();
    let (_, evs) = sys.turn_in(conversation, "/echo mine").await;
    assert_eq!(evs.last().unwrap().event, "end");
    let unrouted = get(&sys.c, "/api/paliadin/no-such-route").await;
    assert_eq!(unrouted.0, 404);

    let (_, other_token) = user(&sys.db, "other@x", Role::Owner).await;
    let (_, admin_token) = user(&sys.db, "admin@x", Role::Admin).await;
    let other = Client::new(&sys.api.base, Some(&other_token));
    let admin = Client::new(&sys.api.base, Some(&admin_token));
    let stranger = Client::new(&sys.api.base, None);
    let unknown = path(Uuid::new_v4());
    for (who, c, p) in [
        ("another owner", &other, path(conversation)),
        (
            "an admin (PALIADIN_ADMIN_TERMINAL off)",
            &admin,
            path(conversation),
        ),
        ("a stranger", &stranger, path(conversation)),
        (
            "the owner, an unknown conversation",
            &sys.c,
            unknown.clone(),
        ),
        ("the owner, a malformed id", &sys.c, path("not-a-uuid")),
        ("another owner, an unknown conversation", &other, unknown),
    ] {
        assert_eq!(get(c, &p).await, unrouted, "{who}: {p}");
    }
    // Nothing was opened for any of them.
    let views: i64 = sqlx::query_scalar("SELECT count(*) FROM terminal_views")
        .fetch_one(&sys.db.pool)
        .await
        .unwrap();
    assert_eq!(views, 0);

    // The owner does see it.
    let (status, mut frames) = sys.c.open_stream(&path(conversation), None).await;
    assert_eq!(status, 200);
    let first = next_screen(&mut frames).await;
    assert!(first.data["screen"].as_str().unwrap().contains("wrote "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_a_terminal_only_when_allowed_and_each_view_is_recorded() {
    let mut sys = TermSys::new(ApiConfig::default()).await;
    sys.start_worker("term-sec-2");
    let conversation = Uuid::new_v4();
    sys.turn_in(conversation, "/echo watched").await;
    let (admin, admin_token) = user(&sys.db, "admin@x", Role::Admin).await;
    let off = Client::new(&sys.api.base, Some(&admin_token));
    assert_eq!(get(&off, &path(conversation)).await.0, 404);

    // A second API process on the same database, with the setting on.
    let allowed = start_api(
        &sys.db,
        ApiConfig {
            admin_terminal: true,
            ..ApiConfig::default()
        },
    )
    .await;
    let on = Client::new(&allowed.base, Some(&admin_token));
    assert_eq!(
        get(&on, &path(Uuid::new_v4())).await.0,
        404,
        "unknown conversation"
    );
    let (status, mut frames) = on.open_stream(&path(conversation), None).await;
    assert_eq!(status, 200);
    let frame = next_screen(&mut frames).await;
    assert!(frame.data["screen"].as_str().unwrap().contains("wrote "));
    let views = terminal::admin_views(&sys.db.pool, sys.owner.id, 10)
        .await
        .unwrap();
    assert_eq!(views.len(), 1, "{views:?}");
    let v = &views[0];
    assert_eq!(
        (v.viewer_id, v.by_admin, v.session_id, v.closed_at.is_none()),
        (admin.id, true, conversation, true)
    );

    // When the admin leaves, the record stays (closed, without the screen).
    drop(frames);
    let pool = sys.db.pool.clone();
    paliadin_e2e::wait_until(10, "the admin's view closed", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT closed_at IS NOT NULL AND screen IS NULL FROM terminal_views WHERE by_admin",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    })
    .await;
    // The owner's own views leave no record.
    let (status, mut mine) = sys.c.open_stream(&path(conversation), None).await;
    assert_eq!(status, 200);
    next_screen(&mut mine).await;
    drop(mine);
    paliadin_e2e::wait_until(10, "the owner's view gone", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM terminal_views WHERE NOT by_admin")
                .fetch_one(&pool)
                .await
                .unwrap()
                == 0
        }
    })
    .await;
    allowed.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_sends_nothing_to_the_pane() {
    let mut sys = TermSys::new(ApiConfig::default()).await;
    // The owner's pane runs a program that writes every byte of its input to a file, the
    // terminal in raw mode (no line buffering, no echo): any key sent to the pane lands there.
    let input = sys.rig.spool.parent().unwrap().join("pane-input");
    std::fs::write(&input, b"").unwrap();
    let program = format!("stty raw -echo; exec cat > '{}'", input.display());
    let conversation = sys.pane_running(&program, 80, 24).await;
    sys.start_worker("term-sec-3");

    let (status, mut frames) = sys.c.open_stream(&path(conversation), None).await;
    assert_eq!(status, 200);
    next_screen(&mut frames).await;
    // Output of the pane's program (written to its terminal) is shown live, within a second.
    let tty = pane_tty(&sys.rig.socket, &sys.session());
    for n in 0..3 {
        let took = print_and_see(&mut frames, &tty, &format!("printed line {n}")).await;
        println!(
            "terminal: a printed line reached the view in {:.0} ms",
            took.as_secs_f64() * 1000.0
        );
        assert!(took < Duration::from_secs(1), "line {n} took {took:?}");
    }
    drop(frames);
    sys.views_closed().await;
    assert_eq!(
        std::fs::read(&input).unwrap(),
        b"",
        "the view sent bytes to the pane"
    );

    // The probe would have seen a key: one sent by tmux arrives.
    let key = Command::new("tmux")
        .args(["-L", &sys.rig.socket, "send-keys", "-t"])
        .arg(format!("={}:", sys.session()))
        .args(["-l", "k"])
        .status()
        .unwrap();
    assert!(key.success());
    paliadin_e2e::wait_until(10, "the key reached the probe", || {
        let input = input.clone();
        async move { std::fs::read(&input).unwrap() == b"k" }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_pane_reaches_the_view_paced_in_frames_and_bytes() {
    let mut sys = TermSys::new(ApiConfig::default()).await;
    // A wide pane whose program does nothing; the test floods its terminal with coloured lines,
    // so that every frame is a different, large screen.
    let conversation = sys.pane_running("exec sleep 600", 400, 160).await;
    sys.start_worker("term-sec-4");
    let (status, mut frames) = sys.c.open_stream(&path(conversation), None).await;
    assert_eq!(status, 200);
    next_screen(&mut frames).await;
    let tty = pane_tty(&sys.rig.socket, &sys.session());
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut out = std::fs::OpenOptions::new().write(true).open(&tty).unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let line: String = (0..39)
                    .map(|i| format!("\x1b[3{}m{n:07}-{i:02}", (n + i) % 8))
                    .collect();
                out.write_all(format!("{line}\x1b[0m\r\n").as_bytes())
                    .unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            n
        })
    };
    // Frames while the pane changes all the time: count them and their bytes.
    let window = Duration::from_secs(4);
    let started = Instant::now();
    let (mut count, mut bytes, mut largest) = (0usize, 0usize, 0usize);
    while started.elapsed() < window {
        let Ok(Some(ev)) = tokio::time::timeout(window - started.elapsed(), frames.next()).await
        else {
            break;
        };
        if ev.event == "screen" {
            let size = ev.data["screen"].as_str().unwrap().len();
            count += 1;
            bytes += size;
            largest = largest.max(size);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let lines = flooding.join().unwrap();
    println!(
        "terminal: flood of {lines} lines; the view got {count} frames, {bytes} bytes \
         (largest {largest}) in {secs:.1} s"
    );
    assert!(
        largest > 64 * 1024,
        "frames were not large: {largest} bytes"
    );
    assert!(
        count >= 2,
        "the view did not follow the flood: {count} frames"
    );
    // At most MAX_FPS a second, and BYTES_PER_SEC on average (one frame of slack: a frame goes
    // first, the wait after it is paid next).
    assert!(
        count as f64 <= 4.0 * secs + 1.0,
        "{count} frames in {secs:.1} s"
    );
    assert!(
        bytes as f64 <= 64.0 * 1024.0 * secs + largest as f64,
        "{bytes} bytes in {secs:.1} s"
    );
}
