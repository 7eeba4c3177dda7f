//! A remote tmux host on a second container, as `docs/operations.md` ("A remote tmux host") and
//! `docs/hosts.md` ("Adding a host", "failover") say: only `paliadin-host` installed there,
//! sshd enabled by its own unit, the worker's key authorised with `install-host.sh`, the host
//! key pinned with `ssh-keyscan`, and the host added to `PALIADIN_HOSTS` of the first
//! container's workers. A new owner is pinned to it and served there; powering that container
//! off mid-turn fails the turn `host_unreachable` and, with `PALIADIN_FAILOVER=move`, moves the
//! owner to the healthy host, where the next turn is answered.

use super::{Site, free_port, holder, install, ready};
use paliadin_e2e::http::Client;
use paliadin_e2e::nspawn::Container;
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Boots the host container and installs `paliadin-host` there; its sshd on `port`.
async fn host_container(deb: &Path, port: u16) -> Option<Container> {
    let h = Container::boot("host")?;
    h.copy_in(deb, "/root/paliadin-host.deb");
    h.run(&format!(
        "mkdir -p /etc/ssh/sshd_config.d && printf 'Port {port}\\nListenAddress 127.0.0.1\\n' \
         >/etc/ssh/sshd_config.d/paliadin-tests.conf && \
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/paliadin-host.deb >/dev/null"
    ))
    .await;
    // Nothing of the worker side came with it; sshd runs from its unit.
    h.run("test ! -e /usr/bin/paliadin-worker && test ! -e /usr/bin/paliadin-api")
        .await;
    let ssh = h
        .run("systemctl is-enabled ssh; systemctl is-active ssh")
        .await;
    assert_eq!(
        ssh.split_whitespace().collect::<Vec<_>>(),
        ["enabled", "active"]
    );
    Some(h)
}

async fn pinned_host(db: &PgPool, email: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT s.host FROM agent_sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_optional(db)
    .await
    .unwrap()
}

pub async fn run(debs: &[PathBuf]) {
    let Some(c) = Container::boot("remote") else {
        return;
    };
    let (url, base, token) = install(&c, debs).await;
    ready(&base).await;
    let s = Site {
        db: PgPool::connect(&url)
            .await
            .expect("the container's PostgreSQL"),
        owner: Client::new(&base, Some(&token)),
        base,
        c,
    };
    // The first owner is served locally (the only host yet), so the next one goes to gpu1.
    let (_, sse) = s.owner.turn("hello locally").await;
    let evs = s.owner.stream_all(&sse, None, 30).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");

    let port = free_port();
    let Some(h) = host_container(&debs[1], port).await else {
        return;
    };
    // docs/hosts.md, "Adding a host": a key for the workers, authorised on the host with the
    // forced command, the host key pinned (and its fingerprint compared).
    s.c.run(
        "ssh-keygen -q -t ed25519 -N '' -f /etc/paliadin/id_ed25519 && \
         chown paliadin:paliadin /etc/paliadin/id_ed25519",
    )
    .await;
    let pubkey = s.c.root.join("etc/paliadin/id_ed25519.pub");
    h.copy_in(&pubkey, "/root/worker.pub");
    h.run(
        "/usr/share/paliadin-host/install-host.sh --bin-dir /usr/bin --prefix /usr \
         --user paliadin --worker-key /root/worker.pub >/dev/null",
    )
    .await;
    let pinned =
        s.c.run(&format!(
            "ssh-keyscan -p {port} -t ed25519 127.0.0.1 2>/dev/null >/etc/paliadin/known_hosts && \
             ssh-keygen -lf /etc/paliadin/known_hosts"
        ))
        .await;
    let real = h
        .run("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
        .await;
    let fingerprint = |l: &str| l.split_whitespace().nth(1).unwrap_or_default().to_owned();
    assert_eq!(fingerprint(&pinned), fingerprint(&real), "host key");
    s.c.run(&format!(
        "printf '%s\\n' 'PALIADIN_HOSTS=\"local=local,gpu1=ssh://paliadin@127.0.0.1:{port}?key=/etc/paliadin/id_ed25519&known_hosts=/etc/paliadin/known_hosts\"' \
           PALIADIN_FAILOVER=move PALIADIN_HOST_CONNECT_TIMEOUT_SECS=3 >>/etc/paliadin/paliadin.env && \
         systemctl restart paliadin-worker@1 && systemctl restart paliadin-worker@2"
    ))
    .await;
    let q = "SELECT count(*) FROM hosts WHERE name = 'gpu1' AND reachable";
    paliadin_e2e::wait_until(30, "gpu1 reachable", || {
        let r = sqlx::query_scalar::<_, i64>(q).fetch_one(&s.db);
        async move { r.await.unwrap() == 1 }
    })
    .await;

    // A new owner is pinned to the host with the fewest users, gpu1, and served there.
    let add = "set -a; . /etc/paliadin/paliadin.env; set +a; \
               paliadin-api user add --email remote@example.com --role owner";
    let token = s.c.run(add).await.lines().last().unwrap().trim().to_owned();
    let remote = Client::new(&s.base, Some(&token));
    let (_, sse) = remote.turn("hello over ssh").await;
    let evs = remote.stream_all(&sse, None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let email = "remote@example.com";
    assert_eq!(pinned_host(&s.db, email).await.as_deref(), Some("gpu1"));
    h.run("pgrep -u paliadin -f paliadin-demo-agent >/dev/null")
        .await;

    // The host goes away mid-turn: the turn fails host_unreachable, the owner moves to local.
    let (turn, sse) = remote.turn("/slow 30000 cut off").await;
    holder(&s.db, &turn).await;
    let t = Instant::now();
    drop(h);
    let evs = remote.stream_all(&sse, None, 90).await;
    let last = evs.last().unwrap();
    assert_eq!(last.event, "error", "{evs:?}");
    assert_eq!(last.data["code"], "host_unreachable", "{evs:?}");
    eprintln!(
        "host powered off: the turn failed {:.1} s later",
        t.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while pinned_host(&s.db, email).await.as_deref() != Some("local") {
        assert!(Instant::now() < deadline, "remote@ was not moved to local");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, sse) = remote.turn("hello again, locally").await;
    let evs = remote.stream_all(&sse, None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
}
