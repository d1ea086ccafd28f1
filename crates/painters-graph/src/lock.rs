//! `FolderLock`: one painters process at a time writes an output folder.
//! The lock is the file `.painters.lock` in the folder, created atomically
//! with its content (hard-linked into place, which fails when it exists: of
//! two processes exactly one gets it), holding the owner's pid, host and
//! start time; it is removed when the lock is dropped. A lock
//! left by a process that no longer runs (killed) is stale: it is detected
//! (same host, pid not alive) and taken over — removed, then created again
//! with `O_EXCL`, so two processes finding the same stale lock still end
//! with one owner. The process holding a lock may take it again (nested:
//! a prune writes its model into the folder it locked).
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{GraphError, Result};

pub use crate::conventions::LOCK_FILE;

/// A held lock on a folder (released on drop).
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    /// False for a nested acquisition by the process already holding it.
    owned: bool,
}

impl FolderLock {
    /// Locks `dir` (created if missing) for `what` (e.g. "sweep"), or fails
    /// with one line naming the process that holds it.
    pub fn acquire(dir: &Path, what: &str) -> Result<Self> {
        Self::acquire_file(dir, LOCK_FILE, what)
    }

    /// [`Self::acquire`] with the lock file `name` in `dir`: for writers of
    /// different files in one folder (the shards of a sweep).
    pub fn acquire_file(dir: &Path, name: &str, what: &str) -> Result<Self> {
        let io = |e: std::io::Error| GraphError::Write { path: dir.to_path_buf(), source: e };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(name);
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let content = format!("{}\n{}\n{since}\n{what}\n", std::process::id(), host());
        for _ in 0..2 {
            match create_with(dir, &path, &content) {
                Ok(()) => return Ok(Self { path, owned: true }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let mut lines = text.lines();
                    let pid: Option<i32> = lines.next().and_then(|l| l.trim().parse().ok());
                    let owner_host = lines.next().unwrap_or_default().to_string();
                    let _since = lines.next();
                    let owner_what = lines.next().unwrap_or("painters").to_string();
                    if pid == Some(std::process::id() as i32) && owner_host == host() {
                        return Ok(Self { path, owned: false }); // this process holds it already
                    }
                    let stale = match pid {
                        Some(pid) => owner_host == host() && !alive(pid),
                        None => true, // torn or empty: its writer died mid-write
                    };
                    if !stale {
                        return Err(GraphError::Locked {
                            dir: dir.to_path_buf(),
                            lock: path.clone(),
                            what: owner_what,
                            pid,
                            host: (owner_host != host()).then_some(owner_host),
                        });
                    }
                    // A stale lock: take it over (only one remover's create_new succeeds).
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(GraphError::LockTaken { dir: dir.to_path_buf() })
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates `path` holding `content`, failing with `AlreadyExists` when it
/// exists. The content is written to a temporary file first and hard-linked
/// into place, so no other process ever reads the lock empty (and takes it
/// for one torn by a writer that died); where hard links are not supported,
/// the file is created with `O_EXCL` and then written.
fn create_with(dir: &Path, path: &Path, content: &str) -> std::io::Result<()> {
    let linked = tempfile::Builder::new().prefix(".painters-lock-").tempfile_in(dir).and_then(|mut tmp| {
        tmp.write_all(content.as_bytes())?;
        std::fs::hard_link(tmp.path(), path)
    });
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
            f.write_all(content.as_bytes())
        }
        other => other,
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}

#[cfg(unix)]
fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    #[allow(unsafe_code)]
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_pid: i32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_stale_one_taken_over() {
        let dir = tempfile_dir();
        let a = FolderLock::acquire(&dir, "sweep").unwrap();
        // the same process may nest (a prune writing its model); the outer guard releases
        drop(FolderLock::acquire(&dir, "rewrite").unwrap());
        assert!(dir.join(LOCK_FILE).exists());
        // another process is refused (a lock file naming pid 1, which is alive)
        let other = dir.join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(LOCK_FILE), format!("1\n{}\n0\nsweep\n", host())).unwrap();
        let e = FolderLock::acquire(&other, "rewrite").unwrap_err().to_string();
        assert!(e.contains("in use by another painters sweep (pid 1)"), "{e}");
        drop(a);
        assert!(!dir.join(LOCK_FILE).exists());
        // A lock left by a process that is gone (pid far past pid_max).
        std::fs::write(dir.join(LOCK_FILE), format!("999999999\n{}\n0\nsweep\n", host())).unwrap();
        let b = FolderLock::acquire(&dir, "sweep").unwrap();
        assert!(std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap().starts_with(&std::process::id().to_string()));
        drop(b);
        // A torn lock (its writer died mid-write).
        std::fs::write(dir.join(LOCK_FILE), "").unwrap();
        assert!(FolderLock::acquire(&dir, "sweep").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("painters-lock-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
