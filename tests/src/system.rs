//! Starting the API and workers in-process, on loopback, each with its own stop signal; and a
//! worker on its own runtime that can be killed like a crashed process.

use crate::db::TestDb;
use paliadin_api::config::ApiConfig;
use paliadin_api::state::AppState;
use paliadin_worker::config::RuntimeConfig;
use paliadin_worker::driver::Driver;
use paliadin_worker::runtime::{ServedHost, Worker};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Api {
    pub base: String,
    pub state: AppState,
    pub shutdown: CancellationToken,
    pub join: JoinHandle<std::io::Result<()>>,
}

pub async fn start_api(db: &TestDb, config: ApiConfig) -> Api {
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = AppState::new(db.pool.clone(), config, shutdown.clone())
        .await
        .expect("state");
    let join = tokio::spawn(paliadin_api::serve(
        listener,
        state.clone(),
        shutdown.clone(),
    ));
    crate::wait_until(10, "event hub connected", || {
        let hub = state.hub.clone();
        async move { hub.connects() >= 1 }
    })
    .await;
    Api {
        base,
        state,
        shutdown,
        join,
    }
}

/// Test defaults: short polls, short leases, quick shutdown.
pub fn fast_runtime(id: &str) -> RuntimeConfig {
    RuntimeConfig {
        worker_id: Some(id.to_owned()),
        poll_ms: 200,
        lease_secs: 5,
        shutdown_grace_secs: 5,
        ..RuntimeConfig::default()
    }
}

pub fn local_host() -> Vec<ServedHost> {
    vec![ServedHost {
        name: paliadin_shared::HostName::local(),
        address: "local".into(),
    }]
}

pub struct WorkerHandle {
    pub shutdown: CancellationToken,
    pub join: JoinHandle<anyhow::Result<()>>,
}

pub async fn start_worker(
    db: &TestDb,
    driver: Arc<dyn Driver>,
    config: RuntimeConfig,
) -> WorkerHandle {
    let shutdown = CancellationToken::new();
    let worker = Worker::new(db.pool.clone(), driver, config, local_host())
        .await
        .expect("worker");
    let join = tokio::spawn(worker.run(shutdown.clone()));
    WorkerHandle { shutdown, join }
}

impl WorkerHandle {
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.join.await.expect("join").expect("worker ran cleanly");
    }
}

/// A worker on its own runtime and thread; [`IsolatedWorker::kill`] drops every task at once,
/// like SIGKILL: no heartbeat, no cleanup, no final write.
pub struct IsolatedWorker {
    runtime: Option<tokio::runtime::Runtime>,
}

impl IsolatedWorker {
    pub fn start(url: String, driver: Arc<dyn Driver>, config: RuntimeConfig) -> IsolatedWorker {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.spawn(async move {
            let pool = paliadin_shared::db::connect(&url, 5).await.expect("pool");
            let worker = Worker::new(pool, driver, config, local_host())
                .await
                .expect("worker");
            let _ = worker.run(CancellationToken::new()).await;
        });
        IsolatedWorker {
            runtime: Some(runtime),
        }
    }

    pub fn kill(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for IsolatedWorker {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
