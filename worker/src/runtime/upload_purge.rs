//! Files of uploads whose rows are gone (a forgotten conversation, user deletion, retention):
//! on every poll tick, each served host's queued purges (`upload_purges`, filled by a trigger
//! as the rows go) are carried out by that host's driver and then dequeued. A purge that fails
//! (an unreachable host) stays queued for the next tick.

use super::Ctx;
use paliadin_shared::HostName;
use paliadin_shared::db::uploads;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most turns purged per host and tick.
const BATCH: i64 = 100;

/// Carries out the queued purges of `hosts`.
pub async fn run(ctx: &Ctx, hosts: impl Iterator<Item = &HostName>) {
    for host in hosts {
        let purges = match uploads::take_purges(&ctx.pool, host.as_str(), BATCH).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%host, error = %e, "cannot read the queued upload purges");
                continue;
            }
        };
        if purges.is_empty() {
            continue;
        }
        let Ok(driver) = ctx.driver(host) else {
            continue;
        };
        let mut by_user: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for p in purges {
            by_user.entry(p.user_id).or_default().push(p.turn_id);
        }
        for (user, turns) in by_user {
            match driver.purge_uploads(user, &turns).await {
                Ok(()) => {
                    for t in &turns {
                        if let Err(e) = uploads::purged(&ctx.pool, host.as_str(), *t).await {
                            tracing::warn!(%host, error = %e, "cannot dequeue an upload purge");
                        }
                    }
                    tracing::info!(%host, %user, turns = turns.len(), "uploaded files removed");
                }
                Err(e) => {
                    tracing::warn!(%host, %user, error = %e, "cannot remove uploaded files yet")
                }
            }
        }
    }
}
