//! Over SSH, the host agent follows the real Claude Code's transcript as the owner's account and
//! pushes the work log on its wire: the turn's stream carries the same steps, in the same
//! order, as for a local agent (`agent_claude::worklog`), and a replay carries them again.

use paliadin_e2e::claude::Claude;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::worklog::{assert_work_steps, steps};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_claudes_work_shows_as_steps_live_and_on_replay() {
    let rig = TmuxRig::new();
    let Some(claude) = Claude::setup(&rig).await else {
        return;
    };
    let host = SshHost::start_on(rig, "ccwl1", &claude.worker_env());
    let db = paliadin_e2e::db::TestDb::new().await;
    let api = paliadin_e2e::system::start_api(&db, Default::default()).await;
    let (_, token) = user(
        &db,
        "o@ssh-worklog",
        paliadin_shared::db::users::Role::Owner,
    )
    .await;
    let _w = worker(
        &db.url,
        "cc-ssh-wl",
        &host.entry(),
        &[("PALIADIN_TURN_TIMEOUT_SECS", "90")],
    );
    wait_host(&db, "ccwl1", true, 30).await;
    let c = Client::new(&api.base, Some(&token));
    let path = claude.workdir.join("notes.txt");
    let text = std::fs::read_to_string(&path).expect("the workdir's file");
    let path = path.display().to_string();
    let (_, sse) = c.turn(&format!("work 2 {path}")).await;
    let evs = c.stream_all(&sse, None, 120).await;
    assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
    let live = steps(&evs);
    assert_work_steps(&live, 2, &path, &text);
    let again = c.stream_all(&sse, None, 30).await;
    assert_eq!(steps(&again), live, "a replay carries the same steps");
}
