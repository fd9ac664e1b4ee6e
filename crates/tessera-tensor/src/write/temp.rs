//! Temporary files of atomic writes: named `.tessera-<pid>-<random>.tmp` so that a file left by a killed run
//! is recognisable (its process is gone) and removed by the next write into the same directory, and
//! registered while they exist so that a signal handler can remove them ([`remove_temp_files`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The prefix every temporary file of this crate carries.
const PREFIX: &str = ".tessera-";
/// The suffix every temporary file of this crate carries.
const SUFFIX: &str = ".tmp";
/// At most this many directory entries are looked at for stale files per write.
const MAX_SCANNED: usize = 10_000;

/// The temporary files of writes in progress, in this process.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary file beside an output: removed when dropped unless it was renamed into place.
pub(crate) struct TempFile {
    path: Option<tempfile::TempPath>,
}

impl TempFile {
    /// Creates an empty temporary file in `dir` for the output `target` (named in errors), first removing
    /// stale temporary files that killed runs left in `dir`.
    pub(crate) fn new_in(dir: &Path, target: &Path) -> Result<Self> {
        remove_stale(dir);
        let path = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .suffix(SUFFIX)
            .tempfile_in(dir)
            .map_err(|e| Error::io(target, e))?
            .into_temp_path();
        lock().push(path.to_path_buf());
        Ok(TempFile { path: Some(path) })
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Renames the temporary file over `target`.
    pub(crate) fn persist(mut self, target: &Path, named: &Path) -> Result<()> {
        if let Some(path) = self.path.take() {
            let own = path.to_path_buf();
            let result = path.persist(target).map_err(|e| Error::io(named, e.error));
            forget(&own);
            result?;
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let own = path.to_path_buf();
            drop(path);
            forget(&own);
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn forget(path: &Path) {
    lock().retain(|p| p != path);
}

/// Removes the temporary files of this process's writes in progress. Call it from a SIGINT/SIGTERM handler
/// before exiting, so an interrupted write leaves nothing behind (the file being replaced is untouched).
/// Returns how many files were removed.
pub fn remove_temp_files() -> usize {
    let paths = std::mem::take(&mut *lock());
    paths.iter().filter(|p| std::fs::remove_file(p).is_ok()).count()
}

/// Removes `.tessera-<pid>-*.tmp` files in `dir` whose process no longer runs. Only done where the process
/// table can be read (`/proc`); elsewhere stale files are left alone rather than guessed at.
fn remove_stale(dir: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.take(MAX_SCANNED).flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(stale_pid) else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The process id in a temporary file name of ours, `.tessera-<pid>-<random>.tmp`.
fn stale_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (pid, random) = rest.split_once('-')?;
    (!random.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then(|| pid.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_our_names() {
        assert_eq!(stale_pid(".tessera-123-abcDEF.tmp"), Some(123));
        assert_eq!(stale_pid(".tessera-abcDEF.tmp"), None);
        assert_eq!(stale_pid(".tessera-12x-abc.tmp"), None);
        assert_eq!(stale_pid("tessera-123-abc.tmp"), None);
        assert_eq!(stale_pid(".tessera-123-abc.txt"), None);
        assert_eq!(stale_pid(".tessera-123-.tmp"), None);
    }
}
