//! Driving agents in tmux: the control-mode client and its CLI fallback, session lifecycle,
//! delivery, and the turn core.
//!
//! Layout:
//! - [`command`]: [`Tmux`], one server's handle: commands on its control-mode client
//!   ([`control`]), one CLI process per call ([`cli`]) as the fallback, errors classified;
//! - [`gate`]: no command of ours runs while a control client of ours attaches (tmux 3.3a
//!   crashes otherwise);
//! - [`buffer`]: user text into a tmux buffer (a private file, or a CLI client's stdin);
//! - [`session`]: create / health / kill / wait-until-ready, with a per-session health cache;
//! - [`busy`]: the agent's busy marker: a turn is pasted only into an idle agent;
//! - [`capacity`]: the live-agent limit of a server, and which idle agent makes room;
//! - [`clock`]: the turn's time limit, stopped while the person answers a permission request;
//! - [`deliver`]: paste through a buffer, separate Enter, confirmation;
//! - [`dialog`]: a question open in the agent's terminal that no hook reported;
//! - [`host`]: [`TmuxHost`], a whole turn over tmux plus the spool (`crate::spool`); it knows
//!   nothing about how its caller is reached, so the local driver and an SSH host agent share it;
//! - [`resume`]: a takeover never pastes twice (the turn's files; the input cleared first);
//! - [`wait`]: streaming the spool and watching the session until the reply;
//! - [`config`]: [`TmuxConfig`] and the agent-command parsing;
//! - [`socket`]: where Paliadin's own tmux server listens (never a person's server);
//! - [`agent_env`]: the environment a new agent session gets, made explicit;
//! - [`launch`]: how the agent starts a conversation and resumes one;
//! - [`pane_view`]: one read-only look at a pane (size, cursor, screen with colours) for the
//!   live terminal view.
//!
//! The why of every step is in `docs/tmux-driving.md`.

pub mod agent_env;
pub mod api_error;
pub mod buffer;
pub mod busy;
pub mod capacity;
pub mod cli;
pub mod clock;
pub mod command;
pub mod config;
pub mod control;
pub mod deliver;
pub mod dialog;
pub mod gate;
pub mod host;
pub mod launch;
pub mod pane_view;
pub mod resume;
pub mod retrying;
pub mod session;
pub mod socket;
pub mod wait;

pub use agent_env::{AgentEnv, AgentEnvError};
pub use clock::TurnClock;
pub use command::{Tmux, TmuxError};
pub use config::{AgentCmdError, TmuxConfig, default_spool_dir, split_agent_cmd};
pub use host::{StartError, TmuxHost};
pub use session::{Ensured, Health, Sessions};
pub use socket::Socket;
