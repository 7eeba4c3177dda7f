//! A turn's uploads on the agent's host: the files and images the owner sent with the message,
//! written into the agent's working directory before the turn is pasted, and named in the
//! envelope so that the agent reads them (docs/agent-protocol.md, "Files sent with a message").
//!
//! Layout: `<workdir>/uploads/<turn id>/<name>`; both directories mode 0700, each file 0600,
//! owned by whoever runs the agent (the worker's account locally, the host agent's over SSH and
//! for `accounts://` hosts). A file is written under a temporary name and renamed into place,
//! so the agent never sees half a file, and a retry (another attempt, a reconnect) writes it
//! again whole. [`purge`] removes a turn's directory when its rows are gone.

use base64::Engine;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

/// The largest piece of a file one host-agent request carries (base64 on the wire: 128 KiB),
/// so one upload never holds the shared channel for long nor needs a long line.
pub const CHUNK_BYTES: usize = 96 * 1024;

/// One file of a turn, by the name it gets on disk
/// ([`paliadin_shared::domain::upload::disk_names`]).
#[derive(Clone)]
pub struct TurnUpload {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// The bytes; `None` where they were already written (a host agent got them in pieces
    /// before the turn, see [`write_piece`]).
    pub data: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for TurnUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnUpload")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .finish()
    }
}

/// `<workdir>/uploads/<turn id>`, absolute.
pub fn turn_dir(workdir: &Path, turn: Uuid) -> PathBuf {
    let base = std::path::absolute(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    base.join("uploads").join(turn.hyphenated().to_string())
}

/// Refuses a name that could leave the turn's directory (the API made names safe already;
/// a host agent checks again what a worker sends).
fn checked(name: &str) -> io::Result<&str> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.contains(['/', '\\', '\0'])
        || name.starts_with('.')
        || name.chars().any(char::is_control);
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a file name: {name:?}"),
        ));
    }
    Ok(name)
}

/// Creates `<workdir>/uploads/<turn>` (and `uploads/`), mode 0700.
fn make_dir(workdir: &Path, turn: Uuid) -> io::Result<PathBuf> {
    let dir = turn_dir(workdir, turn);
    let parent = dir.parent().expect("uploads/ has a parent");
    for d in [parent, dir.as_path()] {
        match DirBuilder::new().mode(0o700).create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Ours or a leftover: never a symlink, and closed to others.
                let meta = fs::symlink_metadata(d)?;
                if !meta.is_dir() {
                    return Err(io::Error::other(format!(
                        "{} is not a directory",
                        d.display()
                    )));
                }
                fs::set_permissions(d, fs::Permissions::from_mode(0o700))?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(dir)
}

fn part_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.part"))
}

/// Where `turn`'s uploads are (or go), in order.
pub fn paths(workdir: &Path, turn: Uuid, uploads: &[TurnUpload]) -> Vec<PathBuf> {
    let dir = turn_dir(workdir, turn);
    uploads.iter().map(|u| dir.join(&u.name)).collect()
}

/// Writes every upload of `turn` that carries its bytes, and checks the names of all of them
/// (those without bytes were written by [`write_piece`]).
pub fn write_all(workdir: &Path, turn: Uuid, uploads: &[TurnUpload]) -> io::Result<()> {
    if uploads.is_empty() {
        return Ok(());
    }
    make_dir(workdir, turn)?;
    for u in uploads {
        let name = checked(&u.name)?;
        if let Some(data) = &u.data {
            write_piece(workdir, turn, name, 0, data, true)?;
        }
    }
    Ok(())
}

/// Writes one piece of a file at `offset` (0 starts it afresh); the `last` piece moves the
/// file into place. Pieces come in order; a piece whose offset is not where the file ends is
/// refused (the sender starts over from 0).
pub fn write_piece(
    workdir: &Path,
    turn: Uuid,
    name: &str,
    offset: u64,
    data: &[u8],
    last: bool,
) -> io::Result<()> {
    let name = checked(name)?;
    let dir = make_dir(workdir, turn)?;
    let part = part_path(&dir, name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(offset == 0)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&part)?;
    let len = file.seek(SeekFrom::End(0))?;
    if len != offset {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a piece at {offset} for a file of {len} bytes"),
        ));
    }
    file.write_all(data)?;
    if last {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&part, dir.join(name))?;
    }
    Ok(())
}

/// Removes `turn`'s uploads (its directory; symlinks are removed, never followed). A missing
/// directory is Ok.
pub fn purge(workdir: &Path, turn: Uuid) -> io::Result<()> {
    match fs::remove_dir_all(turn_dir(workdir, turn)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// The lines the envelope gets after the message, naming each file for the agent (empty when
/// there are none).
pub fn note(paths: &[PathBuf], uploads: &[TurnUpload]) -> String {
    if uploads.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("\n\n[Files sent with this message, saved in your working directory:");
    for (path, u) in paths.iter().zip(uploads) {
        let kind = u.content_type.split(';').next().unwrap_or_default().trim();
        out.push_str(&format!(
            "\n- {} ({kind}, {} bytes)",
            path.display(),
            u.size
        ));
    }
    out.push_str("\nRead them with the Read tool where the message needs them.]");
    out
}

/// Splits `data` into the pieces a host agent is sent: `(offset, base64, last)`.
pub fn pieces(data: &[u8]) -> Vec<(u64, String, bool)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if data.is_empty() {
        return vec![(0, String::new(), true)];
    }
    let n = data.len().div_ceil(CHUNK_BYTES);
    data.chunks(CHUNK_BYTES)
        .enumerate()
        .map(|(i, c)| ((i * CHUNK_BYTES) as u64, b64.encode(c), i + 1 == n))
        .collect()
}

/// Decodes a piece's base64 (at most [`CHUNK_BYTES`] bytes).
pub fn decode_piece(b64: &str) -> io::Result<Vec<u8>> {
    let data = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if data.len() > CHUNK_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a piece larger than 96 KiB",
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A private directory of this test's, removed after it.
    struct Tmp(PathBuf);

    impl Tmp {
        fn new() -> Tmp {
            let p = std::env::temp_dir().join(format!("paliadin-uploads-{}", Uuid::now_v7()));
            fs::create_dir(&p).unwrap();
            Tmp(p)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn upload(name: &str, data: &[u8]) -> TurnUpload {
        TurnUpload {
            name: name.into(),
            content_type: "text/plain; charset=utf-8".into(),
            size: data.len() as u64,
            data: Some(Arc::from(data)),
        }
    }

    #[test]
    fn files_are_written_private_and_named_in_the_note() {
        let tmp = Tmp::new();
        let turn = Uuid::now_v7();
        let ups = vec![upload("a.txt", b"hello"), upload("b (2).txt", b"")];
        write_all(tmp.path(), turn, &ups).unwrap();
        let paths = paths(tmp.path(), turn, &ups);
        assert_eq!(fs::read(&paths[0]).unwrap(), b"hello");
        assert_eq!(fs::metadata(&paths[0]).unwrap().mode() & 0o777, 0o600);
        let dir = turn_dir(tmp.path(), turn);
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            fs::metadata(dir.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        let note = note(&paths, &ups);
        assert!(note.contains(&format!("- {} (text/plain, 5 bytes)", paths[0].display())));
        purge(tmp.path(), turn).unwrap();
        assert!(!dir.exists());
        purge(tmp.path(), turn).unwrap();
    }

    #[test]
    fn pieces_reassemble_and_out_of_order_is_refused() {
        let tmp = Tmp::new();
        let turn = Uuid::now_v7();
        let data: Vec<u8> = (0..250_000u32).map(|i| i as u8).collect();
        let ps = pieces(&data);
        assert_eq!(ps.len(), 3);
        let (o, b, l) = &ps[1];
        assert!(write_piece(tmp.path(), turn, "x.bin", *o, &decode_piece(b).unwrap(), *l).is_err());
        for (o, b, l) in &ps {
            write_piece(tmp.path(), turn, "x.bin", *o, &decode_piece(b).unwrap(), *l).unwrap();
        }
        assert_eq!(
            fs::read(turn_dir(tmp.path(), turn).join("x.bin")).unwrap(),
            data
        );
        assert!(write_piece(tmp.path(), turn, "../x", 0, b"", true).is_err());
        assert!(write_piece(tmp.path(), turn, ".hidden", 0, b"", true).is_err());
    }
}
