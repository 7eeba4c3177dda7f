//! The demo agent's main loop: a keyboard thread, a decoder on the main thread, and one
//! answering thread that handles turns one at a time, in order.
//!
//! ```text
//! stdin ──reader thread──▶ Msg::Bytes ──▶ InputParser ──Submit──▶ ack + Job ──▶ answering thread
//!                                              └──Interrupt──▶ Control (wakes the answer)
//! ```

use super::answer::{self, Outcome, Stop, Turn};
use super::control::{Control, InterruptOutcome};
use super::directive::{self, Directive};
use super::input::{InputEvent, InputParser};
use super::memory::Memory;
use super::spool::Spool;
use super::terminal::{RawMode, Screen, shown};
use paliadin_shared::Envelope;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// How long an ESC may wait for the rest of an escape sequence before it counts as the Escape
/// key (terminals send a sequence in one write, so its bytes arrive together).
const ESCAPE_WAIT: Duration = Duration::from_millis(50);
/// The exit status of `/crash`.
pub const CRASH_STATUS: i32 = 70;
/// How much of a received message the transcript shows.
const SHOWN_CHARS: usize = 300;

/// What reaches the main loop.
enum Msg {
    Bytes(Vec<u8>),
    Eof,
    /// Exit now with this status (`/crash`).
    Exit(i32),
}

/// A turn waiting for the answering thread.
struct Job {
    seq: u64,
    envelope: Envelope,
}

/// Runs the agent until stdin closes, Ctrl-D, or `/crash`; returns the exit status. The
/// terminal is restored before this returns.
pub fn run(spool: Spool, memory: Memory) -> io::Result<i32> {
    let raw = RawMode::enable()?;
    let screen = Arc::new(Screen::default());
    let control = Arc::new(Control::default());
    let (msg_tx, msg_rx) = mpsc::channel();
    let (job_tx, job_rx) = mpsc::channel();
    spawn_reader(msg_tx.clone());
    spawn_answerer(
        job_rx,
        msg_tx,
        spool.clone(),
        memory,
        control.clone(),
        screen.clone(),
    );
    screen.line(&format!(
        "paliadin-demo-agent ready. Spool: {}\nWaiting for `[PALIADIN:<turn_id>] <message>`. \
         Esc or Ctrl-C interrupts, Ctrl-D quits, --help lists the directives.",
        shown(&spool.dir().display().to_string(), SHOWN_CHARS)
    ));
    let mut keys = Keys {
        parser: InputParser::new(!raw.is_tty()),
        spool,
        control,
        screen,
        jobs: job_tx,
    };
    let status = keys.run(&msg_rx);
    raw.restore();
    Ok(status)
}

fn spawn_reader(tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = [0u8; 8192];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Msg::Eof);
                    return;
                }
                Ok(n) => {
                    if tx.send(Msg::Bytes(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

fn spawn_answerer(
    jobs: Receiver<Job>,
    exit: Sender<Msg>,
    spool: Spool,
    memory: Memory,
    control: Arc<Control>,
    screen: Arc<Screen>,
) {
    std::thread::spawn(move || {
        for job in jobs {
            let id = job.envelope.turn_id;
            control.start(job.seq);
            screen.line(&format!("… answering turn {id}"));
            let turn = Turn {
                id,
                seq: job.seq,
                message: &job.envelope.message,
                spool: &spool,
                memory: &memory,
                control: &control,
                screen: &screen,
            };
            let result = answer::answer(&turn);
            control.finish();
            match result {
                Ok(Outcome::Answered) => screen.line(&format!("✔ done: wrote {id}.md")),
                Ok(Outcome::Crash) => {
                    screen.line(&format!("✘ /crash: exiting with status {CRASH_STATUS}"));
                    let _ = exit.send(Msg::Exit(CRASH_STATUS));
                    return;
                }
                Err(Stop::Interrupted) => screen.line(&format!("■ interrupted turn {id}")),
                Err(e @ Stop::Io(_)) => screen.line(&format!("✘ turn {id}: {e}")),
            }
        }
    });
}

/// The main thread's state: decodes keys and dispatches submissions and interrupts.
struct Keys {
    parser: InputParser,
    spool: Spool,
    control: Arc<Control>,
    screen: Arc<Screen>,
    jobs: Sender<Job>,
}

impl Keys {
    fn run(&mut self, rx: &Receiver<Msg>) -> i32 {
        loop {
            let msg = if self.parser.escape_pending() {
                match rx.recv_timeout(ESCAPE_WAIT) {
                    Ok(msg) => msg,
                    Err(RecvTimeoutError::Timeout) => {
                        let events = self.parser.escape_timeout();
                        if self.handle(events) {
                            return 0;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return 0,
                }
            } else {
                match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => return 0,
                }
            };
            match msg {
                Msg::Bytes(bytes) => {
                    let events = self.parser.feed(&bytes);
                    if self.handle(events) {
                        return 0;
                    }
                }
                Msg::Eof => {
                    self.screen.line("stdin closed; bye");
                    return 0;
                }
                Msg::Exit(status) => return status,
            }
        }
    }

    /// Handles decoded events; true when the agent should quit.
    fn handle(&mut self, events: Vec<InputEvent>) -> bool {
        for event in events {
            match event {
                InputEvent::Submit(bytes) => {
                    self.screen.echo(b"\n");
                    // An open question takes the Enter as its answer, and the typed text
                    // with it: what a terminal agent does with a paste into its dialog.
                    if self.control.close_dialog() {
                        self.screen.clear();
                        self.screen.line(&format!(
                            "dialog answered: yes ({} typed bytes taken as the answer)",
                            bytes.len()
                        ));
                        continue;
                    }
                    self.submit(bytes);
                }
                InputEvent::Interrupt => {
                    if self.control.close_dialog() {
                        self.screen.clear();
                        self.screen.line("dialog dismissed");
                    }
                    self.interrupt();
                }
                InputEvent::Quit => {
                    self.screen.line("Ctrl-D; bye");
                    return true;
                }
                InputEvent::Typed(bytes) => {
                    self.screen
                        .echo(shown(&String::from_utf8_lossy(&bytes), usize::MAX).as_bytes());
                }
                InputEvent::Erased => self.screen.echo(b"\x08 \x08"),
                InputEvent::LineKilled => self.screen.echo(b"\r\x1b[K"),
                InputEvent::Pasted(n) => self.screen.echo(format!("[pasted {n} bytes]").as_bytes()),
            }
        }
        false
    }

    fn submit(&mut self, bytes: Vec<u8>) {
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                self.screen
                    .line("! input is not valid UTF-8; invalid bytes replaced");
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        let Some(envelope) = Envelope::parse(&text) else {
            self.screen.line(&format!(
                "? not a Paliadin envelope, ignored: {}",
                shown(&text, SHOWN_CHARS)
            ));
            return;
        };
        let id = envelope.turn_id;
        let late = match directive::parse(&envelope.message) {
            Directive::LateAck(ms) => Some(Duration::from_millis(ms)),
            _ => None,
        };
        if late.is_none() {
            ack(&self.spool, &self.screen, &envelope);
        }
        let (seq, ahead) = self.control.submit();
        self.screen.line(&format!(
            "▶ turn {id} received ({} bytes): {}",
            envelope.message.len(),
            shown(&envelope.message, SHOWN_CHARS)
        ));
        if ahead > 0 {
            self.screen
                .line(&format!("  queued behind {ahead} turn(s)"));
        }
        let job = Job { seq, envelope };
        let Some(after) = late else {
            let _ = self.jobs.send(job);
            return;
        };
        // `/late-ack`: the receipt (and then the answer) come later, as with a slow hook.
        self.screen
            .line(&format!("  receipt in {} ms", after.as_millis()));
        let (spool, screen, jobs) = (self.spool.clone(), self.screen.clone(), self.jobs.clone());
        std::thread::spawn(move || {
            std::thread::sleep(after);
            ack(&spool, &screen, &job.envelope);
            let _ = jobs.send(job);
        });
    }

    fn interrupt(&self) {
        match self.control.interrupt() {
            InterruptOutcome::Running(_) => self.screen.line("⏹ interrupt"),
            InterruptOutcome::Queued(_) => self
                .screen
                .line("⏹ interrupt: the next queued turn will not be answered"),
            InterruptOutcome::Idle => self.screen.line("(interrupt: nothing is running)"),
        }
    }
}

/// Records the receipt of a submitted envelope (`<turn_id>.ack`); a failure is shown.
fn ack(spool: &Spool, screen: &Screen, envelope: &Envelope) {
    let id = envelope.turn_id;
    if let Err(e) = spool.ack(id, envelope.message.len()) {
        screen.line(&format!("✘ could not write {id}.ack: {e}"));
    }
}
