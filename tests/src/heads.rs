//! Claiming a queue's group heads in tests of the queue's order: every head of a host's queue
//! leased and claimed at once, the attempts by turn.

use paliadin_shared::HostName;
use paliadin_shared::attempt::{Attempt, Claimer, TurnControl};
use uuid::Uuid;

/// Leases the heads of `host`'s queue (at most 10, for an hour) and claims each; returns the
/// attempts by turn, sorted by turn id. Panics when a head cannot be claimed.
pub async fn claim_heads(claimer: &Claimer, host: &HostName) -> Vec<(Uuid, Attempt)> {
    let mut claimed = Vec::new();
    for l in claimer.queue.read_heads(host, 3600, 10).await.unwrap() {
        let attempt = claimer
            .claim(&l, TurnControl::default())
            .await
            .unwrap()
            .expect("a head is claimable");
        claimed.push((l.turn_id, attempt));
    }
    claimed.sort_by_key(|(id, _)| *id);
    claimed
}

/// The turns of [`claim_heads`]'s attempts, in its order.
pub fn turns_of(claimed: &[(Uuid, Attempt)]) -> Vec<Uuid> {
    claimed.iter().map(|(id, _)| *id).collect()
}
