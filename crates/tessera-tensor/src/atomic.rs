//! Atomic file writes: write to a temporary file in the target's directory, sync, then rename into place,
//! so a crash or an error mid-write never leaves a half-written file where a good one used to be.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Writes a file atomically: `write` fills a buffered temporary file beside `path`, which is flushed,
/// synced to disk and renamed over `path` only if `write` succeeds. On error the temporary file is removed
/// and any existing file at `path` is left untouched.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("hello.txt");
/// tessera_tensor::write_atomic(&path, |w| {
///     use std::io::Write;
///     w.write_all(b"hello")
/// })
/// .unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello");
/// ```
pub fn write_atomic<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
{
    let path = path.as_ref();
    write_atomic_with(path, |tmp| {
        let file = File::create(tmp).map_err(|e| Error::io(path, e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        write(&mut writer).map_err(|e| Error::io(path, e))?;
        writer.flush().map_err(|e| Error::io(path, e))
    })
}

/// Lower-level form of [`write_atomic`] for writers that insist on opening a path themselves:
/// `write` receives the temporary path and must create the file there.
pub fn write_atomic_with<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".tessera-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, e))?
        .into_temp_path();
    write(&tmp)?;
    // Temporary files are created owner-only; give the result the permissions of the file it replaces,
    // or the usual ones for a new file.
    let permissions = match std::fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => default_permissions(&tmp).map_err(|e| Error::io(path, e))?,
    };
    std::fs::set_permissions(&tmp, permissions).map_err(|e| Error::io(path, e))?;
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(unix)]
fn default_permissions(tmp: &Path) -> std::io::Result<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    let mut p = std::fs::metadata(tmp)?.permissions();
    p.set_mode(0o644);
    Ok(p)
}

#[cfg(not(unix))]
fn default_permissions(tmp: &Path) -> std::io::Result<std::fs::Permissions> {
    Ok(std::fs::metadata(tmp)?.permissions())
}
