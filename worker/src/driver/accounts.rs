//! `AccountsDriver`: the [`Driver`] for a host whose owners each have their own agent account
//! (`accounts://…`, see [`crate::accounts`]).
//!
//! Every turn, reset and settle looks up its owner's account in the account map, then goes to
//! that account's host agent: one [`SshDriver`] per account over its own [`Link`], whose
//! "connection" is `sudo -n -u ACCOUNT -- paliadin-shim serve --private …` on a pipe. Links
//! start on an account's first turn and are kept up (and reconnected) like a remote host's, so
//! resuming after a dropped pipe works exactly as over SSH. The worker never touches an
//! account's spool or tmux server itself: only through that account's host agent.

use super::ssh::SshDriver;
use super::{DriveError, Driver, Progress, TurnControl, TurnSpec};
use crate::accounts::{AccountMap, AccountName, AccountsTarget, HostAgentSettings};
use crate::ssh::{Link, LinkOptions};
use async_trait::async_trait;
use paliadin_shared::SessionName;
use paliadin_shared::domain::trailer::Reply;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::process::Command;
use uuid::Uuid;

/// Drives the agents of one host, each owner's under their own account.
pub struct AccountsDriver {
    /// The host's name, for logs.
    label: String,
    target: AccountsTarget,
    settings: HostAgentSettings,
    opts: LinkOptions,
    map: AccountMap,
    /// One host agent (and its link) per account, started on the account's first use.
    host_agents: Mutex<HashMap<AccountName, Arc<SshDriver>>>,
}

impl AccountsDriver {
    /// Reads nothing yet: the map is read (and checked) on first use and whenever it changes.
    pub fn new(
        label: &str,
        target: AccountsTarget,
        settings: HostAgentSettings,
        opts: LinkOptions,
    ) -> AccountsDriver {
        AccountsDriver {
            label: label.to_owned(),
            map: AccountMap::new(&target.map),
            target,
            settings,
            opts,
            host_agents: Mutex::default(),
        }
    }

    /// The host agent of `user`'s account. A user without an account gets no agent: the turn
    /// fails (as an upstream error, so failover does not move the user elsewhere).
    fn host_agent(&self, user: Uuid) -> Result<Arc<SshDriver>, DriveError> {
        let entry = self.map.account(user).map_err(|e| {
            tracing::warn!(host = %self.label, error = %e, "no agent account for the user");
            DriveError::Upstream(e)
        })?;
        let account = entry.account.clone();
        let mut host_agents = self.host_agents.lock().expect("host_agents");
        let host_agent = host_agents.entry(account.clone()).or_insert_with(|| {
            let settings = self.settings.for_owner(entry.agent.as_ref());
            let (sudo, args) = (
                self.target.sudo.clone(),
                self.target.args(&account, &settings),
            );
            let agent = settings.launch.agent.as_deref().unwrap_or("the worker's");
            tracing::info!(host = %self.label, %account, agent, "starting the account's host agent");
            let connect = move || {
                let mut cmd = Command::new(&sudo);
                // Nothing of the worker's environment (DATABASE_URL above all) reaches the
                // helper or the agent; the helper sets the account's HOME, USER and PATH.
                cmd.args(&args)
                    .env_clear()
                    .current_dir("/")
                    .stdin(Stdio::piped());
                cmd
            };
            let label = format!("{}/{account}", self.label);
            let link = Link::start_with(&label, connect, self.opts.clone());
            Arc::new(SshDriver::with_link(link, self.opts.connect_timeout))
        });
        Ok(host_agent.clone())
    }
}

#[async_trait]
impl Driver for AccountsDriver {
    async fn run_turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        self.host_agent(spec.user_id)?
            .run_turn(spec, progress, control)
            .await
    }

    async fn reset(&self, user: Uuid, session: &SessionName) -> Result<(), DriveError> {
        self.host_agent(user)?.reset(user, session).await
    }

    async fn settle(&self, user: Uuid, turn: Uuid) {
        if let Ok(host_agent) = self.host_agent(user) {
            host_agent.settle(user, turn).await
        }
    }

    async fn pane(
        &self,
        user: Uuid,
        session: &SessionName,
    ) -> Result<crate::tmux::pane_view::PaneView, DriveError> {
        self.host_agent(user)?.pane(user, session).await
    }

    async fn purge_uploads(&self, user: Uuid, turns: &[Uuid]) -> Result<(), String> {
        let host_agent = self.host_agent(user).map_err(|e| e.to_string())?;
        host_agent.purge_uploads(user, turns).await
    }

    async fn transcript(
        &self,
        user: Uuid,
        op: crate::transcript_store::TranscriptOp,
    ) -> Result<crate::transcript_store::TranscriptAnswer, DriveError> {
        self.host_agent(user)?.transcript(user, op).await
    }

    /// The host is usable while its account map is; each account's own link decides its turns.
    fn reachability(&self) -> Result<(), String> {
        self.map.current().map(|_| ())
    }
}
