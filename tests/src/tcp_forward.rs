//! A TCP forwarder in the test process: accepts on one address and relays each connection to a
//! target, so that a process in a network namespace can reach a loopback-only service (e.g.
//! PostgreSQL on `127.0.0.1:5432`) through the namespace's veth. Stops accepting on drop.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Forwarder {
    /// Where it accepts.
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Forwarder {
    /// Listens on `bind` (port 0: any free port) and relays to `target`.
    pub async fn start(bind: SocketAddr, target: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind(bind).await.expect("bind the forwarder");
        let addr = listener.local_addr().expect("forwarder address");
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Forwarder { addr, accept }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
