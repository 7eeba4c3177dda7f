//! A turn's uploads over the host-agent channel: before its `run`, each file goes to the host
//! agent in `upload` pieces of at most [`crate::uploads::CHUNK_BYTES`] (so no request line is
//! long and other turns on the channel are not held up), and the `run` names them
//! ([`proto::WireUpload`]); `purge_uploads` removes them once their rows are gone.

use super::{DriveError, TurnSpec};
use crate::host_agent::proto::{self, Body, Op, WireCode};
use crate::ssh::{CallError, Conn};
use std::time::Duration;
use uuid::Uuid;

/// How long one piece may take to be written on the host.
const PIECE_LIMIT: Duration = Duration::from_secs(30);

/// The uploads as the `run` request names them.
pub fn wire(spec: &TurnSpec) -> Vec<proto::WireUpload> {
    spec.uploads
        .iter()
        .map(|u| proto::WireUpload {
            name: u.name.clone(),
            content_type: u.content_type.clone(),
            size: u.size,
        })
        .collect()
}

/// Why the files could not be sent.
pub enum SendError {
    /// The channel closed: send them again on the next connection.
    Closed,
    Failed(DriveError),
}

/// Sends every upload of `spec` that carries its bytes, piece by piece, each from offset 0
/// (so a resend after a reconnect writes the file whole again).
pub async fn send(conn: &Conn, spec: &TurnSpec) -> Result<(), SendError> {
    for u in &spec.uploads {
        let Some(data) = &u.data else { continue };
        for (offset, data, last) in crate::uploads::pieces(data) {
            let op = Op::Upload {
                turn_id: spec.turn_id,
                name: u.name.clone(),
                offset,
                data,
                last,
            };
            match conn.call(op, PIECE_LIMIT).await {
                Ok(Body::Ok { .. }) => {}
                Ok(Body::Error {
                    code: WireCode::UnknownOp,
                    ..
                }) => {
                    return Err(SendError::Failed(DriveError::Upstream(
                        "the host agent cannot take files (update paliadin-host on that host)"
                            .into(),
                    )));
                }
                Ok(other) => {
                    return Err(SendError::Failed(DriveError::Upstream(format!(
                        "the host agent refused upload {:?}: {other:?}",
                        u.name
                    ))));
                }
                Err(CallError::Closed(_)) => return Err(SendError::Closed),
                Err(e) => {
                    return Err(SendError::Failed(DriveError::HostUnreachable(
                        e.to_string(),
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Asks the host agent to remove the files of `turns`.
pub async fn purge(conn: &Conn, turns: &[Uuid]) -> Result<(), String> {
    let op = Op::PurgeUploads {
        turn_ids: turns.to_vec(),
    };
    match conn.call(op, PIECE_LIMIT).await {
        Ok(Body::Ok { .. }) => Ok(()),
        Ok(other) => Err(format!("the host agent answered {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}
