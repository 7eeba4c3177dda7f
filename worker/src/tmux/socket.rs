//! Where Paliadin's own tmux server listens, and the configuration it starts with.
//!
//! Every tmux client of the worker and the host agent names its server by path (`tmux -S`),
//! never by tmux's default, so an agent never joins a person's own tmux server (whose
//! environment, `~/.tmux.conf` and `kill-server` would be shared with it). `TMUX` and
//! `TMUX_TMPDIR` inherited from a person's shell redirect nothing.
//!
//! `PALIADIN_TMUX_SOCKET`:
//! - unset or empty: `$XDG_RUNTIME_DIR/paliadin/tmux.sock`, else `/tmp/paliadin-<uid>/tmux.sock`
//!   (the directory `0700`, owned by this user: checked like the spool's, `shared::trust`);
//! - a path (it holds a `/`): that socket;
//! - a bare name: tmux's own `-L NAME` place, `/tmp/tmux-<uid>/NAME`, with `TMUX_TMPDIR`
//!   ignored (tests and several simulated hosts on one machine use names).
//!
//! A server is started with `-f <socket>.conf`, a file of ours (never the person's
//! `~/.tmux.conf`) that keeps a pane whose agent exited (`remain-on-exit`), so that the worker
//! can say why an agent did not start (`docs/tmux-driving.md`).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The socket file name in Paliadin's runtime directory.
pub const DEFAULT_NAME: &str = "tmux.sock";

/// What Paliadin's tmux server is started with. Only options that change no command's output.
const CONF: &str = "\
# Paliadin's own tmux server (written by Paliadin; replaced at each start of a worker).
# A pane whose agent exited stays, so the worker can read why (tmux-driving.md); the worker
# turns it off for each session once its agent has started (tmux 3.3a crashes when text is
# pasted into a dead pane).
set-option -g remain-on-exit on
";

/// One tmux server, named by its socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    path: PathBuf,
}

impl Socket {
    /// The server `PALIADIN_TMUX_SOCKET` names (see the module docs).
    pub fn resolve(configured: Option<&str>) -> Socket {
        let path = match configured.map(str::trim).filter(|s| !s.is_empty()) {
            None => default_dir().join(DEFAULT_NAME),
            Some(s) if s.contains('/') => absolute(Path::new(s)),
            Some(name) => PathBuf::from(format!("/tmp/tmux-{}", nix::unistd::getuid())).join(name),
        };
        Socket { path }
    }

    /// The server at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Socket {
        Socket {
            path: absolute(&path.into()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration file a new server reads: `<socket>.conf`.
    pub fn conf(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".conf");
        PathBuf::from(p)
    }

    /// Creates the socket's directory (`0700`) and checks that only this user can write it,
    /// then writes the server's configuration file. A worker calls it at start and refuses to
    /// run when it fails: a directory another user controls could swap the server.
    pub fn prepare(&self) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        paliadin_shared::trust::prepare_dir(dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("the tmux socket directory {}: {e}", dir.display()),
            )
        })?;
        self.write_conf()
    }

    /// `<socket>.conf`, written whole to a new file and renamed over the old one.
    fn write_conf(&self) -> std::io::Result<()> {
        let conf = self.conf();
        if std::fs::read_to_string(&conf).is_ok_and(|c| c == CONF) {
            return Ok(());
        }
        let mut tmp = conf.clone().into_os_string();
        tmp.push(format!(".{}", uuid::Uuid::new_v4().simple()));
        let tmp = PathBuf::from(tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let done = f
            .write_all(CONF.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &conf));
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    }

    /// The arguments that name this server to a tmux client: `-S <socket> -f <conf>` (the
    /// configuration only while it exists: a client whose file is gone starts a server with
    /// none rather than failing, and the worker's `ensure` still sees a dead start).
    pub fn client_args(&self) -> Vec<OsString> {
        let mut args = vec![OsString::from("-S"), self.path.clone().into_os_string()];
        let conf = self.conf();
        args.push("-f".into());
        if conf.is_file() {
            args.push(conf.into_os_string());
        } else {
            args.push("/dev/null".into());
        }
        args
    }

    /// Whether a server listens here (tmux leaves the socket file behind when its server
    /// exits, so only a connection tells).
    pub fn server_runs(&self) -> bool {
        std::os::unix::net::UnixStream::connect(&self.path).is_ok()
    }
}

impl std::fmt::Display for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

/// `$XDG_RUNTIME_DIR/paliadin`, else `/tmp/paliadin-<uid>` (the spool's parent by default).
pub fn default_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("paliadin"),
        None => PathBuf::from(format!("/tmp/paliadin-{}", nix::unistd::getuid())),
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_tmux_s_own_place_and_a_path_is_itself() {
        let uid = nix::unistd::getuid();
        assert_eq!(
            Socket::resolve(Some("x")).path(),
            Path::new(&format!("/tmp/tmux-{uid}/x"))
        );
        assert_eq!(
            Socket::resolve(Some("/run/p/t.sock")).path(),
            Path::new("/run/p/t.sock")
        );
        assert!(
            Socket::resolve(None).path().ends_with("paliadin/tmux.sock")
                || Socket::resolve(None).path().ends_with("tmux.sock")
        );
        assert_eq!(Socket::resolve(Some("  ")), Socket::resolve(None));
        assert_eq!(
            Socket::at("/a/b").conf(),
            PathBuf::from("/a/b.conf"),
            "the configuration sits beside the socket"
        );
    }

    #[test]
    fn prepare_makes_a_private_directory_and_the_configuration() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("paliadin-sock-{}", uuid::Uuid::new_v4()));
        let s = Socket::at(dir.join("inner").join("tmux.sock"));
        s.prepare().unwrap();
        let mode = std::fs::metadata(dir.join("inner"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let conf = std::fs::read_to_string(s.conf()).unwrap();
        assert!(conf.contains("remain-on-exit on"), "{conf}");
        let args = s.client_args();
        assert_eq!(args[0], "-S");
        assert_eq!(args[3], s.conf().into_os_string());
        // A directory others may write is refused.
        std::fs::set_permissions(dir.join("inner"), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        assert!(s.prepare().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
