//! `TmuxHost`: runs turns against agents in the tmux sessions of one tmux server, reading
//! their replies from the spool. This is the transport-independent core: `LocalDriver` wraps
//! it as is; an SSH host agent (`paliadin-shim serve`) can wrap the same code on the far host
//! and forward the `Progress` calls as JSON lines.
//!
//! A turn: subscribe to the turn's spool files → ensure the session (create it and wait for a
//! stable screen if new) → paste the envelope and confirm submission → `delivered()` → stream
//! `.partial`/`.events`, check the session every `health_interval` → parse `.md`. Cancel and
//! timeout send Escape; abandon leaves the pane and the files alone for the next worker. The
//! files move to `done/` only once the worker has committed the result ([`TmuxHost::settle`]).

use super::busy;
use super::capacity::{self, AgentEvents, StopReason};
use super::deliver::{self, SubmitError};
use super::dialog;
use super::launch::Mode;
use super::resume;
use super::session::{Ensured, Health, Sessions};
use super::wait::{self, lost};
use super::{Tmux, TmuxConfig, TurnClock};
use crate::contract::{Conversation, DriveError, Progress, TurnControl, TurnSpec};
use crate::spool::{SpoolDir, SpoolWatcher, TurnFeed};
use paliadin_shared::domain::trailer::Reply;
use paliadin_shared::{Envelope, SessionName};
use std::sync::Arc;
use tokio::time::Instant;
use tracing::Instrument;

/// The `activity` a turn shows when a new agent resumed its conversation.
pub const RESUMED: &str = "resumed this conversation in a new agent";
/// The `activity` a turn of a conversation with earlier turns shows when a new agent started
/// it afresh because the agent cannot resume (`PALIADIN_AGENT_RESUME_ARGS=-`, or a custom
/// `PALIADIN_AGENT_CMD` without resume arguments; `doctor` warns of the same).
pub const FORGETS: &str =
    "a new agent started: this agent does not remember earlier turns after a restart";

/// Why a host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the agent command is empty")]
    NoAgentCommand,
    #[error("cannot prepare the spool directory {path}: {source}")]
    Spool {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot watch the spool directory: {0}")]
    Watch(#[from] notify::Error),
    #[error("cannot use the tmux socket {path}: {source}")]
    Socket {
        path: String,
        source: std::io::Error,
    },
}

/// One tmux server, its sessions and its spool. Serves many turns concurrently.
pub struct TmuxHost {
    cfg: TmuxConfig,
    tmux: Tmux,
    sessions: Sessions,
    watcher: SpoolWatcher,
    /// Sessions whose agent was interrupted, with the lines of the interrupted envelope: Claude
    /// Code may put that prompt back into its input line later than the interrupt's own clean-up
    /// could see (under load), so the next paste into the session clears the input first.
    interrupted: std::sync::Mutex<std::collections::HashMap<SessionName, usize>>,
    /// Where agent starts, stops and counts are reported (the local driver's metrics).
    events: Arc<dyn AgentEvents>,
}

impl TmuxHost {
    /// Prepares the spool directory and its watcher. Does not touch tmux: a missing tmux shows
    /// up per turn as `TmuxUnavailable`, so the worker can still report it.
    pub fn start(cfg: TmuxConfig) -> Result<TmuxHost, StartError> {
        let tmux = Tmux::new(&cfg.tmux_bin, cfg.socket.clone());
        TmuxHost::start_with(cfg, tmux)
    }

    /// [`TmuxHost::start`] with a given tmux handle (e.g. one that records its timings); its
    /// control client follows `cfg.control`, and pastes go through `<spool>/.paste/`.
    pub fn start_with(cfg: TmuxConfig, tmux: Tmux) -> Result<TmuxHost, StartError> {
        if cfg.agent_argv.is_empty() {
            return Err(StartError::NoAgentCommand);
        }
        // Refused, not warned about: a socket directory another user can write could hand
        // the agents (and their keys) to a server of theirs.
        tmux.socket()
            .prepare()
            .map_err(|source| StartError::Socket {
                path: tmux.socket().to_string(),
                source,
            })?;
        let spool = SpoolDir::prepare(&cfg.spool_dir, cfg.done_retention)
            .map_err(|source| StartError::Spool {
                path: cfg.spool_dir.display().to_string(),
                source,
            })?
            .with_max_reply_bytes(cfg.max_reply_bytes);
        let tmux = tmux
            .with_control(cfg.control)
            .with_paste_dir(spool.root().join(".paste"));
        let watcher = SpoolWatcher::start(Arc::new(spool))?;
        let sessions = Sessions::new(tmux.clone(), cfg.health_ttl);
        Ok(TmuxHost {
            cfg,
            tmux,
            sessions,
            watcher,
            interrupted: Default::default(),
            events: Arc::new(capacity::NoEvents),
        })
    }

    /// Reports agent starts, stops and counts to `events`.
    pub fn with_events(mut self, events: Arc<dyn AgentEvents>) -> TmuxHost {
        self.events = events;
        self
    }

    /// Before this process exits: detaches the tmux control client ([`Tmux::close`]).
    pub async fn close(&self) {
        self.tmux.close().await;
    }

    pub fn config(&self) -> &TmuxConfig {
        &self.cfg
    }

    pub fn tmux(&self) -> &Tmux {
        &self.tmux
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn spool(&self) -> &SpoolDir {
        self.watcher.dir()
    }

    /// Follows one turn's spool files (what `run_turn` uses; also for tests and tools).
    pub fn subscribe(&self, turn: uuid::Uuid) -> TurnFeed {
        self.watcher.subscribe(turn)
    }

    /// Runs one turn to its reply (see the module docs for the steps).
    pub async fn run_turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        let span = tracing::info_span!("turn", turn_id = %spec.turn_id, session = %spec.session);
        self.turn(spec, progress, control).instrument(span).await
    }

    async fn turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        // The conversation's window, or the agent started for it before windows.
        let resolved = self
            .sessions
            .resolve(&spec.session, spec.already_delivered || spec.resume)
            .await
            .map_err(|e| DriveError::TmuxUnavailable(e.to_string()))?;
        let moved;
        let spec = if resolved == spec.session {
            spec
        } else {
            moved = TurnSpec {
                session: resolved,
                ..spec.clone()
            };
            &moved
        };
        // The limit stands still while the person answers a permission request.
        let clock = TurnClock::new(spec.timeout);
        let mut feed = self.watcher.subscribe(spec.turn_id);
        let turn = wait::Turn {
            progress,
            clock: &clock,
        };
        // The work log follows the agent's transcript alongside (`crate::worklog`).
        let mut worklog = crate::worklog::source(&self.cfg, spec.conversation.id).map(|source| {
            let hide = crate::worklog::plumbing(self.spool().root(), spec.turn_id);
            let takeover =
                spec.already_delivered || spec.resume || self.spool().entered(spec.turn_id);
            crate::worklog::follow::Follower::new(source, spec.turn_id, takeover, hide)
        });
        let outcome = tokio::select! {
            biased;
            _ = control.abandon.cancelled() => Err(DriveError::Abandoned),
            _ = control.cancel.cancelled() => Err(DriveError::Cancelled),
            _ = clock.expired() => Err(DriveError::Timeout),
            r = async {
                match worklog.as_mut() {
                    Some(w) => {
                        // The reply ends the live follower between two step writes, never in
                        // the middle of one (`Follower::run`); `finish` reads the rest below.
                        let stop = tokio_util::sync::CancellationToken::new();
                        let drive = self.drive(spec, turn, &mut feed, control);
                        let run = w.run(progress, &stop);
                        tokio::pin!(drive, run);
                        let r = tokio::select! {
                            r = &mut drive => r,
                            _ = &mut run => unreachable!("the work log follows until it is stopped"),
                        };
                        stop.cancel();
                        run.await;
                        r
                    }
                    None => self.drive(spec, turn, &mut feed, control).await,
                }
            } => r,
            _ = self.at_work(&spec.session) => unreachable!("the mark is renewed until the turn ends"),
        };
        if let (Ok(_), Some(w)) = (&outcome, worklog.as_mut()) {
            w.finish(progress).await;
        }
        drop(feed);
        // Used until now: an idle stop counts from the end of its last turn. An abandoned turn
        // goes on in the agent for the next worker: its mark lapses on its own.
        match &outcome {
            Err(DriveError::Abandoned) => self.sessions.touch(&spec.session).await,
            _ => self.sessions.end_turn(&spec.session).await,
        }
        if let Err(DriveError::SessionLost(_)) = &outcome {
            self.events.stopped(StopReason::Crash, 1);
        }
        if let Err(e) = &outcome {
            tracing::info!(error = %e, "turn ended without a reply");
            self.sessions.evict(&spec.session);
        }
        match &outcome {
            // The next worker takes over from the files and the running agent.
            Err(DriveError::Abandoned) => return outcome,
            // The lease ran out meanwhile (a stall): another worker may own the turn, so no
            // Escape; the next attempt sees the cancel (or the time) and interrupts.
            Err(DriveError::Cancelled | DriveError::Timeout) if !control.lease.running() => {
                tracing::warn!("the lease ran out: not interrupting the agent");
                return Err(DriveError::Abandoned);
            }
            Err(DriveError::Cancelled | DriveError::Timeout) => {
                let lines = self.envelope(spec).lines().count();
                self.interrupt(&spec.session, lines, control).await
            }
            _ => {}
        }
        // The files stay where they are until the worker has committed the result
        // ([`TmuxHost::settle`]): if the commit fails, the next attempt reads the reply again.
        let mut outcome = outcome;
        if let Ok(reply) = &mut outcome {
            reply.agent = Some(self.cfg.launch.agent.answered_as());
        }
        if let (Ok(reply), Some(path)) = (
            &mut outcome,
            self.cfg.usage_transcript(spec.conversation.id),
        ) {
            let agent = self.cfg.launch.agent;
            reply.usage = crate::usage::read_when_written(agent, path.clone(), spec.turn_id).await;
            // Claude's closing request comes after its reply: counted once the agent stops.
            // Codex publishes its reply from the Stop hook, after its last request.
            let counted = reply.usage.iter().find(|t| t.turn_id == spec.turn_id);
            if agent == crate::agent::Agent::Claude {
                crate::usage::closing::count_when_stopped(
                    super::busy::path(self.spool().root(), &spec.session),
                    path,
                    spec.turn_id,
                    counted.map(|t| t.usage.clone()).unwrap_or_default(),
                );
            }
        }
        outcome
    }

    /// The text pasted for `spec`: its envelope, and the paths of the files sent with it
    /// ([`crate::uploads::note`]).
    fn envelope(&self, spec: &TurnSpec) -> String {
        let paths = crate::uploads::paths(&self.cfg.workdir, spec.turn_id, &spec.uploads);
        Envelope::new(spec.turn_id, &spec.message).render()
            + &crate::uploads::note(&paths, &spec.uploads)
    }

    /// Writes the files sent with `spec` into the agent's working directory (before the paste
    /// that names them).
    async fn write_uploads(&self, spec: &TurnSpec) -> Result<(), DriveError> {
        if spec.uploads.is_empty() {
            return Ok(());
        }
        let (workdir, turn, uploads) =
            (self.cfg.workdir.clone(), spec.turn_id, spec.uploads.clone());
        tokio::task::spawn_blocking(move || crate::uploads::write_all(&workdir, turn, &uploads))
            .await
            .map_err(|e| DriveError::Upstream(format!("cannot write the turn's uploads: {e}")))?
            .map_err(|e| DriveError::Upstream(format!("cannot write the turn's uploads: {e}")))
    }

    /// Removes the files sent with `turns` (their rows are gone).
    pub async fn purge_uploads(&self, turns: Vec<uuid::Uuid>) -> std::io::Result<()> {
        let workdir = self.cfg.workdir.clone();
        tokio::task::spawn_blocking(move || {
            turns
                .iter()
                .try_for_each(|t| crate::uploads::purge(&workdir, *t))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The turn's result is committed: move its spool files to `done/`.
    pub fn settle(&self, turn: uuid::Uuid) {
        self.spool().finish(turn);
    }

    async fn drive(
        &self,
        spec: &TurnSpec,
        turn: wait::Turn<'_>,
        feed: &mut TurnFeed,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        let progress = turn.progress;
        // On takeover the message is never pasted again: its reply may even exist already.
        let mut started = None;
        if !spec.already_delivered {
            // A takeover, or any attempt after one that pressed Enter (an SSH host agent does
            // not know the attempt number): look at what the earlier attempt left first.
            let resume = spec.resume || self.spool().entered(spec.turn_id);
            if resume && self.earlier_delivery_arrived(spec.turn_id, feed).await {
                tracing::info!("the agent already received this turn: not pasting it again");
            } else {
                started = self.deliver(spec, resume, progress, feed, control).await?;
            }
            self.sessions.touch(&spec.session).await;
            progress.delivered().await;
            // The person sees once that a new agent took the conversation up where it was, or
            // that it could not: an agent without a way to resume starts it afresh.
            let continues = spec.conversation.continues;
            match started {
                Some(Mode::Resume) => progress.activity(RESUMED).await,
                Some(Mode::Start) if continues && !self.cfg.launch.can_resume() => {
                    progress.activity(FORGETS).await;
                }
                _ => {}
            }
        }
        let watch = wait::Watch {
            every: self.cfg.health_interval,
            dialog_quiet: self.cfg.dialog_quiet,
        };
        wait::reply(&self.sessions, watch, &spec.session, turn, feed).await
    }

    /// Whether an earlier attempt's delivery reached the agent: any file of the turn says so.
    /// Without one, an Enter that attempt recorded gets the time it would itself have waited
    /// for a receipt (every Enter's `ack_timeout`) before calling the message not taken: an agent
    /// whose receipt hook is slow has the message, and pasting it again would submit it twice.
    async fn earlier_delivery_arrived(&self, turn: uuid::Uuid, feed: &mut TurnFeed) -> bool {
        if resume::received(self.spool(), turn) {
            return true;
        }
        if !self.spool().entered(turn) {
            return false;
        }
        let grace = self.cfg.ack_timeout * self.cfg.enter_attempts.max(1);
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "an earlier attempt pressed Enter and no receipt exists yet: waiting for one"
        );
        feed.wait_received(Instant::now() + grace).await
    }

    async fn deliver(
        &self,
        spec: &TurnSpec,
        resume: bool,
        progress: &dyn Progress,
        feed: &mut TurnFeed,
        control: &TurnControl,
    ) -> Result<Option<Mode>, DriveError> {
        acting(control)?;
        let started = Instant::now();
        let pane = spec.session.pane_target();
        self.write_uploads(spec).await?;
        let text = self.envelope(spec);
        let mut ensured = self.ensure(&spec.session, spec.conversation).await?;
        if !self.wait_idle(&spec.session, ensured, control).await {
            // The trusted agent had exited (a crash since its last turn): start it again.
            self.events.stopped(StopReason::Crash, 1);
            self.sessions.evict(&spec.session);
            ensured = self.ensure(&spec.session, spec.conversation).await?;
        }
        // The agent this delivery started, and how (the last one, when it had to start again).
        let mut new_agent = match ensured {
            Ensured::Created(mode) => Some(mode),
            _ => None,
        };
        if !ensured.created() {
            self.no_question(&spec.session, progress, control).await;
        }
        // Input that may sit in the agent's input line: an earlier attempt's paste without its
        // Enter (see `resume`), or an interrupted prompt the agent put back (see `interrupt`).
        let mut leftover = self.take_interrupted(&spec.session).unwrap_or(0);
        if resume {
            leftover = leftover.max(text.lines().count());
        }
        if leftover > 0 && !ensured.created() {
            acting(control)?;
            let presses = resume::clear_presses(leftover);
            if let Err(e) = deliver::clear_input(&self.tmux, &pane, presses).await {
                tracing::info!(error = %e, "could not clear the agent's input before pasting");
            }
            // Keys that reach Claude Code in one read with a paste are taken as pasted text:
            // let it draw the cleared input first. Ctrl-U on an input that is already empty
            // changes nothing on the screen, so only time says the keys were read: the longer
            // quiet window of a new agent (`ready_quiet`; with `idle_quiet`, 100 ms, a loaded
            // CI machine once had the keys in the next prompt). Rare: after an interrupt or a
            // resumed delivery only.
            let quiet = self.cfg.ready_quiet;
            let _ = self
                .sessions
                .wait_ready(&spec.session, quiet, quiet * 10)
                .await;
        }
        let mut restarted = false;
        let confirmed = loop {
            acting(control)?;
            // A Claude Code that has just started draws its prompt before it reads its input:
            // under load the paste and an Enter sent at once arrive in one read, and the Enter
            // is taken as part of the paste (the envelope then waits in the input for the next
            // Enter, `ack_timeout` later: the resume benchmark's +2 s, docs/performance.md). A
            // new agent gets its Enter once the paste shows, waiting at most as long as a lost
            // Enter would cost.
            let shown = match new_agent {
                Some(_) => deliver::capture(&self.tmux, &pane).await.ok(),
                None => None,
            };
            let submitted = match deliver::paste(&self.tmux, &pane, spec.turn_id, &text).await {
                Ok(()) => {
                    if let Some(before) = &shown {
                        let limit = self.cfg.ack_timeout;
                        if !deliver::drawn(&self.tmux, &pane, before, limit).await {
                            tracing::info!("the paste did not show on the new agent's screen");
                        }
                    }
                    deliver::submit(&self.tmux, &pane, feed, &self.cfg, control).await
                }
                Err(e) => Err(SubmitError::Tmux(e)),
            };
            match submitted {
                Ok(confirmed) => break confirmed,
                // The session went since it was trusted or checked (an agent that died just
                // before the turn takes its session along a moment later, between the paste
                // and the Enter too): start a new one, once — unless the agent showed it took
                // the text, which a new agent must not get again.
                Err(SubmitError::Tmux(e))
                    if e.is_missing() && !restarted && !ensured.created() && !feed.received() =>
                {
                    tracing::info!(
                        "the session went before the turn was submitted: starting it again"
                    );
                    restarted = true;
                    self.sessions.evict(&spec.session);
                    if let Ensured::Created(mode) =
                        self.ensure(&spec.session, spec.conversation).await?
                    {
                        new_agent = Some(mode);
                    }
                }
                Err(SubmitError::Tmux(e)) => return Err(lost(e)),
                Err(e @ SubmitError::NotTaken(_)) => {
                    return Err(DriveError::Upstream(e.to_string()));
                }
                Err(SubmitError::LeaseLost) => return Err(DriveError::Abandoned),
            }
        };
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(?ensured, ?confirmed, ms, "delivered");
        Ok(new_agent)
    }

    /// Escape interrupts the agent; it then stops without its Stop hook, so its busy marker is
    /// ours to remove. Claude Code puts a prompt interrupted before any answer back into its
    /// input line: once the screen settles, that input (at most `lines` lines) is cleared so
    /// the next turn's paste does not join it.
    async fn interrupt(&self, s: &SessionName, lines: usize, control: &TurnControl) {
        if !control.lease.running() {
            return;
        }
        let pane = s.pane_target();
        if let Err(e) = deliver::key(&self.tmux, &pane, "Escape").await {
            tracing::info!(error = %e, "could not interrupt the agent");
            return;
        }
        busy::clear(self.spool().root(), s);
        self.interrupted
            .lock()
            .expect("interrupted lock")
            .insert(s.clone(), lines);
        let settle = self.cfg.ready_quiet;
        let _ = self.sessions.wait_ready(s, settle, settle * 10).await;
        if let Err(e) = deliver::clear_input(&self.tmux, &pane, 2 * lines + 1).await {
            tracing::info!(error = %e, "could not clear the agent's input");
        }
    }

    fn take_interrupted(&self, s: &SessionName) -> Option<usize> {
        self.interrupted.lock().expect("interrupted lock").remove(s)
    }

    /// Never paste into an agent that is still working: the text would join that work instead
    /// of arriving as a prompt. A new agent has no work; one that has just finished gets its
    /// screen settled (`idle_quiet`) and its status line no longer saying that it works (its
    /// Stop hook may still run: at most `busy_wait`); one that stays busy is interrupted.
    /// Returns false when the agent turned out to have exited meanwhile (a crash since the
    /// health cache last looked): the caller starts it again.
    async fn wait_idle(&self, s: &SessionName, ensured: Ensured, control: &TurnControl) -> bool {
        let root = self.spool().root();
        if ensured.created() {
            busy::clear(root, s);
            return true;
        }
        // A marker left by an agent that died mid-turn would be waited on for `busy_wait`.
        if busy::path(root, s).exists() && self.sessions.health(s).await.ok() == Some(Health::Dead)
        {
            busy::clear(root, s);
            return false;
        }
        match busy::wait_idle(root, s, self.cfg.busy_wait).await {
            busy::Idle::Already => {}
            busy::Idle::JustNow => {
                let (quiet, limit) = (self.cfg.idle_quiet, self.cfg.busy_wait);
                if let Err(e) = self.sessions.wait_ready(s, quiet, limit).await
                    && e.is_missing()
                {
                    return false;
                }
            }
            busy::Idle::StillBusy => {
                tracing::warn!(
                    wait_s = self.cfg.busy_wait.as_secs(),
                    "the agent is still busy with earlier work: interrupting it for the new turn"
                );
                self.interrupt(s, 1, control).await;
            }
        }
        true
    }

    /// Never paste into a question the agent shows in its terminal: it would take the text as
    /// its answer. The person may answer it there (the turn reports `waiting` with the screen)
    /// until `busy_wait`; then it is dismissed with Escape, as a busy agent is interrupted.
    async fn no_question(&self, s: &SessionName, progress: &dyn Progress, control: &TurnControl) {
        let pane = s.pane_target();
        let deadline = Instant::now() + self.cfg.busy_wait;
        let mut reported = false;
        loop {
            let Ok(screen) = deliver::capture(&self.tmux, &pane).await else {
                return;
            };
            if dialog::question(&screen).is_none() {
                return;
            }
            if !reported {
                tracing::info!("a question is open in the agent's terminal: not pasting into it");
                progress.waiting(&dialog::excerpt(&screen)).await;
                reported = true;
            }
            if Instant::now() >= deadline {
                tracing::warn!("the question stayed open: dismissing it with Escape");
                self.interrupt(s, 1, control).await;
                return;
            }
            // The screen is polled: a question answered in the terminal sends no event.
            let quiet = self.cfg.idle_quiet;
            let _ = self.sessions.wait_ready(s, quiet, quiet * 5).await;
            tokio::time::sleep(self.cfg.health_interval.min(deadline - Instant::now())).await;
        }
    }

    /// The session runs an agent holding the turn's conversation ([`Sessions::ensure`]). A new
    /// agent that exits as it starts is started once more the other way (a resume whose
    /// transcript this host lacks starts the conversation afresh; a start whose conversation
    /// the agent already has resumes it), then fails the turn with its last words.
    async fn ensure(&self, s: &SessionName, conv: Conversation) -> Result<Ensured, DriveError> {
        let tmux_err = |e: super::TmuxError| DriveError::TmuxUnavailable(e.to_string());
        let room = self.room(s, conv).await?;
        let ensured = self
            .sessions
            .ensure(s, &self.cfg, conv, self.spool().root())
            .await
            .map_err(tmux_err)?;
        let Ensured::Created(mode) = ensured else {
            return Ok(ensured);
        };
        // At work from its first moment: no other start takes it for an idle agent.
        self.sessions.mark_turn(s).await;
        drop(room);
        let words = match self.started(s).await? {
            None => {
                self.events.started(mode == Mode::Resume);
                return Ok(ensured);
            }
            Some(words) => words,
        };
        let other = match mode {
            Mode::Resume => Mode::Start,
            Mode::Start => Mode::Resume,
        };
        let transcript = self.cfg.transcript(conv.id);
        let possible = match other {
            Mode::Resume => self.cfg.launch.mode(true, transcript.as_deref()) == Mode::Resume,
            Mode::Start => true,
        };
        if !possible {
            return Err(DriveError::AgentExited(words));
        }
        tracing::warn!(%words, tried = mode.as_str(), now = other.as_str(),
            "the agent exited as it started: starting it the other way");
        let room = self.room(s, conv).await?;
        self.sessions
            .create(s, &self.cfg, conv.id, other)
            .await
            .map_err(tmux_err)?;
        self.sessions.mark_turn(s).await;
        drop(room);
        match self.started(s).await? {
            None => {
                self.events.started(other == Mode::Resume);
                Ok(Ensured::Created(other))
            }
            // The first words say more (e.g. a missing program): those are reported.
            Some(_) => Err(DriveError::AgentExited(words)),
        }
    }

    /// Makes room for `s`'s agent when it has to be started ([`capacity`]): when its owner
    /// holds `PALIADIN_MAX_LIVE_AGENTS_PER_USER` live agents, stops the owner's least recently
    /// used idle one; when the host holds `PALIADIN_MAX_LIVE_AGENTS`, stops the least recently
    /// used idle agents until one place is free. Returns the host's agent lock, to hold until
    /// the new agent is marked at work; None when there is no limit or the agent is trusted to
    /// run. `AgentsFull` when the agents that would have to go are all at work: nothing was
    /// started or pasted.
    async fn room(
        &self,
        s: &SessionName,
        conv: Conversation,
    ) -> Result<Option<capacity::AgentsLock>, DriveError> {
        let (max, per_user) = (self.cfg.max_live_agents, self.cfg.max_live_agents_per_user);
        if (max.is_none() && per_user.is_none()) || self.sessions.cached(s, conv.id) {
            return Ok(None);
        }
        let lock = match capacity::lock(self.spool().root()).await {
            Ok(lock) => lock,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(DriveError::AgentsFull(e.to_string()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the host's agent lock: counting without it");
                return Ok(None);
            }
        };
        let agents = capacity::list(&self.tmux)
            .await
            .map_err(|e| DriveError::TmuxUnavailable(e.to_string()))?;
        let mut live = agents.iter().filter(|a| !a.dead).count();
        // Its own agent (alive or not) is replaced in place: no new place is taken.
        if agents.iter().any(|a| &a.session == s) {
            self.events.counted(live, max);
            return Ok(Some(lock));
        }
        let root = self.spool().root();
        let now = super::session::unix_now();
        let mut stopped: Vec<SessionName> = Vec::new();
        let busy = |x: &SessionName| busy::path(root, x).exists();
        // The owner's own limit first: stopping one of theirs also frees a place on the host.
        if let Some(cap) = per_user {
            let owner = s.session();
            loop {
                let theirs: Vec<capacity::Agent> = agents
                    .iter()
                    .filter(|a| !a.dead && a.session.session() == owner)
                    .filter(|a| !stopped.contains(&a.session))
                    .cloned()
                    .collect();
                if theirs.len() < cap {
                    break;
                }
                let Some(lru) = capacity::least_recently_used(&theirs, s, now, busy) else {
                    self.events.counted(live, max);
                    tracing::info!(
                        owner = %owner,
                        live = theirs.len(),
                        cap,
                        "every agent of this owner is at work: the turn waits in the queue"
                    );
                    return Err(DriveError::AgentsFull(format!(
                        "the owner has {} live agents, at most {cap}, all at work",
                        theirs.len()
                    )));
                };
                self.stop_for_room(lru, live, cap).await?;
                stopped.push(lru.session.clone());
                live -= 1;
            }
        }
        while let Some(max) = max.filter(|max| live >= *max) {
            let candidates: Vec<capacity::Agent> = agents
                .iter()
                .filter(|a| !stopped.contains(&a.session))
                .cloned()
                .collect();
            let Some(lru) = capacity::least_recently_used(&candidates, s, now, busy) else {
                self.events.counted(live, Some(max));
                tracing::info!(
                    live,
                    max,
                    "every agent of this host is at work: the turn waits in the queue"
                );
                return Err(DriveError::AgentsFull(format!(
                    "{live} live agents, at most {max}, all at work"
                )));
            };
            self.stop_for_room(lru, live, max).await?;
            stopped.push(lru.session.clone());
            live -= 1;
        }
        // With the agent about to start.
        self.events.counted(live + 1, max);
        Ok(Some(lock))
    }

    /// Stops `lru` to make room (`live` agents against a limit of `max`).
    async fn stop_for_room(
        &self,
        lru: &capacity::Agent,
        live: usize,
        max: usize,
    ) -> Result<(), DriveError> {
        self.sessions
            .kill_agent(lru)
            .await
            .map_err(|e| DriveError::TmuxUnavailable(e.to_string()))?;
        self.take_interrupted(&lru.session);
        let idle_ms = super::session::unix_now_ms().saturating_sub(lru.used_ms);
        tracing::info!(session = %lru.session, idle_ms, live, max,
            "stopped the least recently used idle agent to make room; its conversation resumes with its next turn");
        self.events.stopped(StopReason::Capacity, 1);
        Ok(())
    }

    /// Keeps the session's agent marked at work ([`capacity::TURN_OPTION`]) while a turn runs
    /// on it; never returns (the turn's end drops it).
    async fn at_work(&self, s: &SessionName) {
        loop {
            self.sessions.mark_turn(s).await;
            tokio::time::sleep(capacity::TURN_RENEW).await;
        }
    }

    /// After a new session's readiness wait: None when its agent runs, else its last words
    /// (the session is then killed).
    async fn started(&self, s: &SessionName) -> Result<Option<String>, DriveError> {
        let (quiet, limit) = (self.cfg.ready_quiet, self.cfg.ready_timeout);
        match self.sessions.wait_ready(s, quiet, limit).await {
            Err(e) if !e.is_missing() => return Err(lost(e)),
            // Exited (its pane kept, read below) or gone altogether (no `remain-on-exit`: a
            // server another configuration started).
            Err(_) | Ok(()) => {}
        }
        // Once it is up, an agent that exits takes its session along: tmux 3.3a's server
        // crashes when text is pasted into a dead pane (`paste-buffer`, measured), and a later
        // turn could paste into one the health cache still trusts. Only a start keeps its pane,
        // to read why it ended (before the option changes: it would cost the pane's history).
        if let Some(words) = self.dead_words(s).await? {
            return Ok(Some(words));
        }
        self.sessions.keep_dead_panes(s, false).await;
        self.dead_words(s).await
    }

    /// None when the session's agent runs; else its last words (the session is then killed).
    async fn dead_words(&self, s: &SessionName) -> Result<Option<String>, DriveError> {
        match self.sessions.health(s).await {
            Ok(Health::Alive { .. }) => Ok(None),
            Ok(Health::Dead) => {
                let words = self.sessions.last_words(s).await;
                tracing::warn!(%words, "the agent exited as it started; check PALIADIN_AGENT_CMD");
                let _ = self.sessions.kill(s).await;
                Ok(Some(words))
            }
            Ok(Health::Missing) => Ok(Some(String::new())),
            Err(e) => Err(lost(e)),
        }
    }

    /// Stops the agents not used for `idle` whose busy marker is gone (an agent at work keeps
    /// it), cleanly: their session is killed, nothing is lost, and each conversation resumes
    /// with its next turn. Returns how many were stopped.
    pub async fn stop_idle(&self, idle: std::time::Duration) -> usize {
        let (idle_ones, live) = match self.sessions.idle(idle).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list the sessions for idle agents");
                return 0;
            }
        };
        let mut stopped = 0;
        for agent in idle_ones {
            let s = &agent.session;
            if busy::path(self.spool().root(), s).exists() {
                continue;
            }
            match self.sessions.kill_agent(&agent).await {
                Ok(()) => {
                    tracing::info!(session = %s, idle_s = idle.as_secs(), "stopped an idle agent; its conversation resumes with its next turn");
                    stopped += 1;
                }
                Err(e) => tracing::warn!(session = %s, error = %e, "cannot stop an idle agent"),
            }
        }
        self.events.stopped(StopReason::Idle, stopped);
        self.events
            .counted(live.saturating_sub(stopped), self.cfg.max_live_agents);
        stopped
    }

    /// Kills the session; the next turn starts a fresh agent. A missing session is fine.
    pub async fn reset(&self, s: &SessionName) -> Result<(), DriveError> {
        self.take_interrupted(s);
        self.sessions
            .kill(s)
            .await
            .map_err(|e| DriveError::TmuxUnavailable(e.to_string()))
    }
}

/// Every action on the agent (paste, Enter, clearing its input) first checks that this worker
/// still holds the turn: not abandoned, and its lease not run out by its own clock — a worker
/// that wakes from a stall refuses at once, before its heartbeat has run (`LeaseClock`).
fn acting(control: &TurnControl) -> Result<(), DriveError> {
    if control.may_act() {
        Ok(())
    } else {
        tracing::warn!("this worker no longer holds the turn: not acting on the agent");
        Err(DriveError::Abandoned)
    }
}
