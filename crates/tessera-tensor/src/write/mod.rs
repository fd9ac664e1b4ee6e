//! Safe output writes. A regular file is written atomically: to a temporary file in the target's directory,
//! synced, then renamed into place, so a crash or an error mid-write never leaves a half-written file where a
//! good one used to be. `-` is stdout; a character device or FIFO is written through in place; a directory,
//! socket, block device or read-only file is refused (see [`crate::OutputProblem`]). [`check_output`] also
//! refuses an output that is one of the command's inputs.

mod target;
mod temp;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

pub use target::check_output;
pub use temp::remove_temp_files;

use crate::error::{Error, Result};
use target::Destination;
use temp::TempFile;

/// The write buffer of an output.
const BUFFER: usize = 1 << 20;

/// Writes `path` safely: `write` fills a buffered writer, which goes to a temporary file renamed over a
/// regular `path` only if `write` succeeds (the file's permissions are kept; a symbolic link is followed and
/// its target replaced), to stdout for `-`, or in place for a character device or FIFO. On error the
/// temporary file is removed and any existing file at `path` is left untouched.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("hello.txt");
/// tessera_tensor::write_atomic(&path, |w| w.write_all(b"hello")).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello");
///
/// // A directory is not a file to write.
/// let err = tessera_tensor::write_atomic(dir.path(), |w| w.write_all(b"x")).unwrap_err();
/// assert!(matches!(err, tessera_tensor::Error::Output { .. }));
/// ```
pub fn write_atomic<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let path = path.as_ref();
    let fail = |e| Error::io(path, e);
    match target::resolve(path)? {
        Destination::Stdout => {
            let mut w = BufWriter::with_capacity(BUFFER, std::io::stdout().lock());
            write(&mut w).map_err(fail)?;
            w.flush().map_err(fail)
        }
        Destination::InPlace(device) => {
            let file = OpenOptions::new().write(true).open(device).map_err(fail)?;
            let mut w = BufWriter::with_capacity(BUFFER, file);
            write(&mut w).map_err(fail)?;
            w.flush().map_err(fail)
        }
        Destination::Replace(file) => replace(path, &file, |tmp| {
            let f = File::create(tmp).map_err(fail)?;
            let mut w = BufWriter::with_capacity(BUFFER, f);
            write(&mut w).map_err(fail)?;
            w.flush().map_err(fail)
        }),
    }
}

/// Lower-level form of [`write_atomic`] for writers that insist on opening a path themselves: `write`
/// receives a temporary path and must create the file there. For stdout and devices the file is made in the
/// system's temporary directory and then copied to the destination.
pub fn write_atomic_with<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    let path = path.as_ref();
    match target::resolve(path)? {
        Destination::Replace(file) => replace(path, &file, write),
        _ => {
            let tmp = TempFile::new_in(&std::env::temp_dir(), path)?;
            write(tmp.path())?;
            let mut bytes = File::open(tmp.path()).map_err(|e| Error::io(path, e))?;
            write_atomic(path, |w| std::io::copy(&mut bytes, w).map(|_| ()))
        }
    }
}

/// Writes through a temporary file beside `file` and renames it over `file`; `named` is the path as the
/// caller gave it, for errors.
fn replace<F>(named: &Path, file: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    let tmp = TempFile::new_in(target::parent_dir(file), named)?;
    write(tmp.path())?;
    // Temporary files are created owner-only; give the result the permissions of the file it replaces,
    // or the usual ones for a new file.
    let permissions = match std::fs::metadata(file) {
        Ok(m) => m.permissions(),
        Err(_) => default_permissions(tmp.path()).map_err(|e| Error::io(named, e))?,
    };
    std::fs::set_permissions(tmp.path(), permissions).map_err(|e| Error::io(named, e))?;
    File::open(tmp.path()).and_then(|f| f.sync_all()).map_err(|e| Error::io(named, e))?;
    tmp.persist(file, named)
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
