//! The work log of a turn, from the real Codex CLI's rollout: the scripted model says a few
//! words and runs `cat` on a file, twice, then on a file that does not exist; the turn's stream
//! carries those steps live, in order (interim text, each command, each output, the failing
//! one as such), without the reply plumbing or the closing words, and a replay carries the
//! same. The first turn is the conversation's first: its rollout is named only once the prompt
//! is in (`worker/src/worklog/follow.rs`); the second reads on in the same rollout and shows
//! only its own steps.

use paliadin_e2e::codex_sys::CodexSys;
use paliadin_e2e::worklog::{assert_codex_work_steps, steps};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codexs_work_shows_as_steps_live_and_on_replay() {
    let Some(sys) = CodexSys::start("cx-wl1", &[]).await else {
        return;
    };
    let path = sys.codex.workdir.join("notes.txt");
    let text = std::fs::read_to_string(&path).expect("the workdir's file");
    let path = path.display().to_string();
    for n in [2, 1] {
        let msg = format!("work {n} {path}");
        let (id, sse) = sys.c.turn(&msg).await;
        let evs = sys.c.stream_all(&sse, None, 90).await;
        sys.assert_end(&evs, &msg);
        let live = steps(&evs);
        assert_codex_work_steps(&live, n, &path, &text);

        let again = sys.c.stream_all(&sse, None, 30).await;
        assert_eq!(
            steps(&again),
            live,
            "a replay of turn {id} carries the same steps"
        );
    }
}
