//! A turn's uploads as its driver gets them: read from the database in order, named for the
//! disk ([`disk_names`]: a name already taken in the turn gets a number), and recorded as
//! written on the turn's host, so that the files go when the rows go
//! ([`super::upload_purge`]).

use crate::uploads::TurnUpload;
use paliadin_shared::db::uploads;
use paliadin_shared::domain::upload::disk_names;
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// The uploads of `turn`, about to be written on `host`.
pub async fn of_turn(
    pool: &PgPool,
    turn: Uuid,
    host: &str,
) -> Result<Vec<TurnUpload>, sqlx::Error> {
    let files = uploads::of_turn(pool, turn).await?;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    // Recorded first: a purge of files that were never written is harmless, files nobody
    // knows of are not.
    uploads::mark_written(pool, turn, host).await?;
    let names = disk_names(files.iter().map(|f| f.name.as_str()));
    Ok(files
        .into_iter()
        .zip(names)
        .map(|(f, name)| TurnUpload {
            name,
            content_type: f.content_type,
            size: f.data.len() as u64,
            data: Some(Arc::from(f.data)),
        })
        .collect())
}
