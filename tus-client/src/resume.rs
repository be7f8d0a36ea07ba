//! Remembering uploads across runs: a source's fingerprint maps to its
//! upload URL (or its parts' URLs), the cookies the server set (session
//! cookies included: a sticky load balancer's are exactly those) and the
//! upload's expiry. An entry is dropped only when the server says the
//! upload is gone (404, 410), when it expired, or when it does not match
//! the source; never on 401 or 403.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The key of a source in a [`ResumeStore`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

/// What identifies a file, as recorded in its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    /// The canonical path.
    pub path: PathBuf,
    /// The size in bytes.
    pub size: u64,
    /// The modification time, in nanoseconds since the Unix epoch.
    pub modified: Option<u64>,
}

/// Bytes hashed at each end of a file.
const EDGE: u64 = 1 << 20;

impl Fingerprint {
    /// A fingerprint of the caller's choosing (any stable string).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The fingerprint of the file at `path` uploaded to `endpoint`: a hash
    /// of the endpoint, the canonical path, the size, the modification time
    /// and the first and last MiB. A changed file gets a new fingerprint.
    pub async fn of_file(endpoint: &str, path: &Path) -> io::Result<(Self, FileIdentity)> {
        let endpoint = endpoint.to_owned();
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::of_file_blocking(&endpoint, &path))
            .await
            .map_err(io::Error::other)?
    }

    fn of_file_blocking(endpoint: &str, path: &Path) -> io::Result<(Self, FileIdentity)> {
        let path = std::fs::canonicalize(path)?;
        let mut file = std::fs::File::open(&path)?;
        let metadata = file.metadata()?;
        let size = metadata.len();
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .and_then(|since| u64::try_from(since.as_nanos()).ok());
        let mut hasher = Sha256::new();
        hasher.update(b"tus-client fingerprint v1\n");
        for part in [
            endpoint.to_owned(),
            path.to_string_lossy().into_owned(),
            size.to_string(),
            modified.map_or_else(String::new, |nanos| nanos.to_string()),
        ] {
            hasher.update(part.as_bytes());
            hasher.update(b"\n");
        }
        let mut edge = Vec::new();
        (&mut file).take(EDGE).read_to_end(&mut edge)?;
        hasher.update(Sha256::digest(&edge));
        edge.clear();
        file.seek(io::SeekFrom::Start(size.saturating_sub(EDGE)))?;
        file.take(EDGE).read_to_end(&mut edge)?;
        hasher.update(Sha256::digest(&edge));
        let key = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
        Ok((Self(key), FileIdentity { path, size, modified }))
    }
}

/// One part of a parallel upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEntry {
    /// First byte of the source.
    pub start: u64,
    /// After the last byte.
    pub end: u64,
    /// The partial upload's URL, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What is remembered about one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResumeEntry {
    /// The creation URL.
    pub endpoint: String,
    /// The source's canonical path (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The source's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The source's modification time (ns since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<u64>,
    /// The upload URL (for a parallel upload: the final one, once created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// The parts of a parallel upload, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartEntry>,
    /// The dialect that created `upload_url` (`ietf-9`, `ietf-8`,
    /// `ietf-6`), which continues it; absent for tus 1.0.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The cookie jar, session cookies included (cookie_store's JSON form
    /// of each cookie).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookies: Vec<serde_json::Value>,
    /// When the upload expires (Unix seconds), the earliest
    /// `Upload-Expires` the server sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// When the entry was made (Unix seconds).
    #[serde(default)]
    pub created_at: u64,
    /// When the entry last changed (Unix seconds).
    #[serde(default)]
    pub updated_at: u64,
}

impl ResumeEntry {
    /// Whether nothing worth keeping is left (no URL of any kind).
    pub fn is_empty(&self) -> bool {
        self.upload_url.is_none() && self.parts.iter().all(|part| part.url.is_none())
    }

    /// `expires` as a time.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires
            .map(|seconds| UNIX_EPOCH + std::time::Duration::from_secs(seconds))
    }
}

/// Why the resume store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading, writing or locking the store's file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The store's file is not what this crate writes.
    #[error("{} is not a resume store: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Where uploads are remembered. Calls may block (file I/O): the client
/// makes them from a blocking thread.
pub trait ResumeStore: fmt::Debug + Send + Sync + 'static {
    /// The entry for `key`, if any.
    fn load(&self, key: &Fingerprint) -> Result<Option<ResumeEntry>, StoreError>;
    /// Stores `entry` for `key`, replacing any earlier one.
    fn save(&self, key: &Fingerprint, entry: &ResumeEntry) -> Result<(), StoreError>;
    /// Forgets `key`.
    fn remove(&self, key: &Fingerprint) -> Result<(), StoreError>;
}

/// A store in memory, for tests and for callers that persist nothing.
#[derive(Debug, Default)]
pub struct MemoryResumeStore {
    entries: Mutex<HashMap<Fingerprint, ResumeEntry>>,
}

impl MemoryResumeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ResumeStore for MemoryResumeStore {
    fn load(&self, key: &Fingerprint) -> Result<Option<ResumeEntry>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    fn save(&self, key: &Fingerprint, entry: &ResumeEntry) -> Result<(), StoreError> {
        self.lock().insert(key.clone(), entry.clone());
        Ok(())
    }

    fn remove(&self, key: &Fingerprint) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
}

impl MemoryResumeStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Fingerprint, ResumeEntry>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The format version of [`JsonFileStore`] files.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    #[serde(default)]
    uploads: BTreeMap<String, ResumeEntry>,
}

/// A store in one JSON file, shared safely by concurrent processes: every
/// change happens under an advisory lock on `FILE.lock`, is written to a
/// temporary file, flushed, and renamed over `FILE` (then the directory is
/// flushed), so a crash leaves the old or the new state, never half of one.
///
/// ```json
/// { "version": 1,
///   "uploads": { "<fingerprint>": {
///       "endpoint": "https://up.example/files/", "path": "/data/big.iso",
///       "size": 4294967296, "modified": 1700000000000000000,
///       "upload_url": "https://up.example/files/24e5…",
///       "cookies": [ { "raw_cookie": "SRV=s2; Path=/", "path": ["/", false],
///                      "domain": { "HostOnly": "up.example" }, "expires": "SessionEnd" } ],
///       "expires": 1700086400, "created_at": 1700000000, "updated_at": 1700000100 } } }
/// ```
#[derive(Debug, Clone)]
pub struct JsonFileStore {
    path: PathBuf,
}

impl JsonFileStore {
    /// A store at `path` (created on the first save, with its directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `$XDG_STATE_HOME/tus-upload/state.json`, else
    /// `$HOME/.local/state/tus-upload/state.json`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("state")))?;
        Some(base.join("tus-upload").join("state.json"))
    }

    fn io_error(&self, path: &Path, source: io::Error) -> StoreError {
        let _ = self;
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// Runs `change` on the state under the lock; writes it back if asked.
    fn locked<T>(&self, change: impl FnOnce(&mut StateFile) -> (T, bool)) -> Result<T, StoreError> {
        if let Some(directory) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(directory).map_err(|error| self.io_error(directory, error))?;
        }
        let lock_path = with_suffix(&self.path, ".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| self.io_error(&lock_path, error))?;
        lock.lock().map_err(|error| self.io_error(&lock_path, error))?;
        let mut state = self.read()?;
        let (value, changed) = change(&mut state);
        if changed {
            self.write(&state)?;
        }
        drop(lock); // Unlocks.
        Ok(value)
    }

    fn read(&self) -> Result<StateFile, StoreError> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(StateFile {
                    version: STATE_VERSION,
                    uploads: BTreeMap::new(),
                });
            }
            Err(error) => return Err(self.io_error(&self.path, error)),
        };
        let state: StateFile = serde_json::from_slice(&text).map_err(|error| StoreError::Corrupt {
            path: self.path.clone(),
            message: error.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                message: format!("version {} (this program writes {STATE_VERSION})", state.version),
            });
        }
        Ok(state)
    }

    fn write(&self, state: &StateFile) -> Result<(), StoreError> {
        use std::io::Write as _;
        let temporary = with_suffix(&self.path, &format!(".tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(state).map_err(|error| StoreError::Corrupt {
            path: self.path.clone(),
            message: error.to_string(),
        })?;
        let write = || -> io::Result<()> {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&text)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)?;
            if let Some(directory) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                // Flushing a directory is not possible everywhere; the rename stands either way.
                if let Ok(directory) = std::fs::File::open(directory) {
                    let _ = directory.sync_all();
                }
            }
            Ok(())
        };
        write().map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            self.io_error(&self.path, error)
        })
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl ResumeStore for JsonFileStore {
    fn load(&self, key: &Fingerprint) -> Result<Option<ResumeEntry>, StoreError> {
        if !self.path.exists() {
            return Ok(None);
        }
        self.locked(|state| (state.uploads.get(key.as_str()).cloned(), false))
    }

    fn save(&self, key: &Fingerprint, entry: &ResumeEntry) -> Result<(), StoreError> {
        self.locked(|state| {
            state.uploads.insert(key.as_str().to_owned(), entry.clone());
            ((), true)
        })
    }

    fn remove(&self, key: &Fingerprint) -> Result<(), StoreError> {
        self.locked(|state| {
            let removed = state.uploads.remove(key.as_str()).is_some();
            ((), removed)
        })
    }
}

/// Unix seconds of `time`.
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str) -> ResumeEntry {
        ResumeEntry {
            endpoint: "http://127.0.0.1:1/files/".into(),
            upload_url: Some(url.into()),
            ..ResumeEntry::default()
        }
    }

    #[test]
    fn json_store_round_trips_and_keeps_other_entries() {
        let dir = tempfile::tempdir().expect("dir");
        let store = JsonFileStore::new(dir.path().join("deep/state.json"));
        let (a, b) = (Fingerprint::new("a"), Fingerprint::new("b"));
        assert_eq!(store.load(&a).expect("load"), None);
        store.save(&a, &entry("http://x/1")).expect("save");
        store.save(&b, &entry("http://x/2")).expect("save");
        // A second handle (another process) sees both.
        let other = JsonFileStore::new(store.path());
        assert_eq!(other.load(&a).expect("load"), Some(entry("http://x/1")));
        other.remove(&a).expect("remove");
        assert_eq!(store.load(&a).expect("load"), None);
        assert_eq!(store.load(&b).expect("load"), Some(entry("http://x/2")));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("deep"))
            .expect("dir")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.json");
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let store = JsonFileStore::new(&path);
                std::thread::spawn(move || {
                    for index in 0..10 {
                        let key = Fingerprint::new(format!("{thread}-{index}"));
                        store.save(&key, &entry("http://x/y")).expect("save");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let state: StateFile = serde_json::from_str(&text).expect("json");
        assert_eq!(state.uploads.len(), 80);
    }

    #[test]
    fn a_foreign_file_is_an_error_not_overwritten() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"not json").expect("write");
        let store = JsonFileStore::new(&path);
        assert!(matches!(
            store.load(&Fingerprint::new("a")),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(store.save(&Fingerprint::new("a"), &entry("u")).is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"not json");
    }

    #[tokio::test]
    async fn fingerprints_change_with_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("data");
        std::fs::write(&path, vec![1u8; 3 << 20]).expect("write");
        let (first, identity) = Fingerprint::of_file("http://e/", &path).await.expect("fingerprint");
        assert_eq!(identity.size, 3 << 20);
        let (same, _) = Fingerprint::of_file("http://e/", &path).await.expect("fingerprint");
        assert_eq!(first, same);
        let (other_endpoint, _) = Fingerprint::of_file("http://f/", &path).await.expect("fingerprint");
        assert_ne!(first, other_endpoint);
        let mut content = vec![1u8; 3 << 20];
        content[(3 << 20) - 1] = 2;
        std::fs::write(&path, content).expect("write");
        let (changed, _) = Fingerprint::of_file("http://e/", &path).await.expect("fingerprint");
        assert_ne!(first, changed);
    }
}
