//! A recording's files on disk: where a stored track path is, and deleting a
//! recording together with its files.
//!
//! The API and the CLI both serve and delete recordings, and must agree on what a
//! stored path may reach: only a plain relative path under the recordings folder
//! ([`crate::validate::recording_path`]), checked again on every use, because
//! other programs may write the database. Nothing a client names is ever joined
//! to the folder: the client names a recording id and a track, the path comes
//! from the row.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use crate::{validate, Store, StoreError};

/// Where the file of a stored track path is: under `folder`, or `None` when the
/// stored value is not a plain relative path (a row edited by hand).
pub fn track_file(folder: &Path, stored: &str) -> Option<PathBuf> {
    validate::recording_path(stored).ok()?;
    let rel = Path::new(stored);
    // The string rule already excludes these; the component check makes the
    // guarantee independent of how the platform splits paths.
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(folder.join(rel))
}

/// What deleting a recording did to its files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeletedFiles {
    /// Removed.
    pub removed: Vec<PathBuf>,
    /// Already gone (or the folder is not the one the server records to).
    pub missing: Vec<PathBuf>,
    /// Kept because another recording lists the same file.
    pub shared: Vec<PathBuf>,
    /// Stored paths that are not plain relative paths: never touched.
    pub refused: Vec<String>,
}

impl Store {
    /// Deletes recording `id`: first its files under `folder` (those no other
    /// recording lists), then its rows. `None` when there is no such recording.
    ///
    /// Files go first so that a file that cannot be removed (permissions) leaves the
    /// recording listed, to be deleted again once fixed, rather than an orphan file
    /// nothing points to: that is [`StoreError::RecordingFile`], and the rows stay.
    pub async fn delete_recording_and_files(
        &self,
        folder: &Path,
        id: &str,
    ) -> Result<Option<DeletedFiles>, StoreError> {
        let Some(rec) = self.get_recording(id).await? else {
            return Ok(None);
        };
        let shared = self.recording_paths_shared(id).await?;
        let mut done = DeletedFiles::default();
        for t in &rec.tracks {
            let Some(file) = track_file(folder, &t.path) else {
                tracing::warn!(recording = %id, path = %t.path, "recording path is not under the recordings folder; the file is left alone");
                done.refused.push(t.path.clone());
                continue;
            };
            if shared.contains(&t.path) {
                done.shared.push(file);
                continue;
            }
            match tokio::fs::remove_file(&file).await {
                Ok(()) => done.removed.push(file),
                Err(e) if e.kind() == ErrorKind::NotFound => done.missing.push(file),
                Err(source) => return Err(StoreError::RecordingFile { path: file, source }),
            }
        }
        if !self.delete_recording(id).await? {
            // Deleted by someone else meanwhile.
            return Ok(None);
        }
        Ok(Some(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_resolve() {
        let dir = Path::new("/var/rec");
        assert_eq!(
            track_file(dir, "calls/1-main.wav"),
            Some(PathBuf::from("/var/rec/calls/1-main.wav"))
        );
        for bad in ["/etc/passwd", "../x.wav", "a/../../b.wav", "", "a//b"] {
            assert_eq!(track_file(dir, bad), None, "{bad:?}");
        }
    }
}
