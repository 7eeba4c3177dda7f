//! The work log of a turn, from the real Claude Code's transcript: the scripted model says a
//! few words and reads a file, twice, then reads a file that does not exist; the turn's stream
//! carries those steps live, in order (interim text, each tool call, each result, the failing
//! one as such), without the reply plumbing, and a replay of the finished turn carries the
//! same. The turn is the conversation's first: Claude writes its first answer to the new
//! transcript before the prompt (`worker/src/worklog/transcript.rs` orders them by time).

use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::worklog::{assert_work_steps, steps};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claudes_work_shows_as_steps_live_and_on_replay() {
    let Some(sys) = ClaudeSys::start("cc-wl1", &[]).await else {
        return;
    };
    let path = sys.claude.workdir.join("notes.txt");
    let text = std::fs::read_to_string(&path).expect("the workdir's file");
    let path = path.display().to_string();
    let (id, sse) = sys.c.turn(&format!("work 2 {path}")).await;
    let evs = sys.c.stream_all(&sse, None, 90).await;
    assert_eq!(last(&evs).event, "end", "{evs:?}");
    let live = steps(&evs);
    assert_work_steps(&live, 2, &path, &text);

    let again = sys.c.stream_all(&sse, None, 30).await;
    assert_eq!(
        steps(&again),
        live,
        "a replay of turn {id} carries the same steps"
    );
}
