//! `{id}.finals`: the final uploads waiting for partial upload `id`, one id
//! per line, appended to (a short `O_APPEND` write is atomic), read back
//! whole, removed with the partial. Lines that are not ids, or not ended
//! (torn by a crash), are skipped.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

use tus_core::store::StoreError;
use tus_core::upload::UploadId;

/// Adds `final_id` to the list at `path`. Blocking.
pub(crate) fn add(path: &Path, final_id: &UploadId, sync: bool) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(StoreError::io)?;
    file.write_all(format!("{final_id}\n").as_bytes())
        .map_err(StoreError::io)?;
    if sync {
        file.sync_data().map_err(StoreError::io)?;
    }
    Ok(())
}

/// The ids listed at `path`; none if there is no list. Blocking.
pub(crate) fn read(path: &Path) -> Result<Vec<UploadId>, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(StoreError::io(error)),
    };
    // Only whole lines: a crash may leave the last one torn.
    let mut ids: Vec<UploadId> = text
        .split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n'))
        .filter_map(|line| UploadId::parse(line).ok())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_final_once_and_skips_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.finals");
        assert!(read(&path).expect("no list").is_empty());
        let (a, b) = (UploadId::parse("a").expect("id"), UploadId::parse("b").expect("id"));
        for id in [&b, &a, &b] {
            add(&path, id, false).expect("add");
        }
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"../x\n\nhalf"))
            .expect("garbage");
        assert_eq!(read(&path).expect("read"), [a, b]);
    }
}
