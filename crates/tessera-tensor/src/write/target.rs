//! Where an output goes: `-` is stdout, a regular file (or a new one) is replaced atomically, a character
//! device or FIFO is written through in place, anything else is refused. Symbolic links are followed, so the
//! file a link points at is replaced and the link stays.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::error::{Error, OutputProblem, Result};

/// How many symbolic links are followed before the path counts as a loop (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// The resolved form of an output path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// `-`: standard output.
    Stdout,
    /// A regular file, or a path where none exists yet: written to a temporary file beside it and renamed
    /// over it. The path is the file itself, after following symbolic links.
    Replace(PathBuf),
    /// A character device or a FIFO: opened and written in place, as a shell redirect would.
    InPlace(PathBuf),
}

/// Resolves `path` to where its bytes will go, refusing what cannot be written safely.
pub(crate) fn resolve(path: &Path) -> Result<Destination> {
    if path.as_os_str() == "-" {
        return Ok(Destination::Stdout);
    }
    let refuse = |problem| Error::Output { path: path.to_path_buf(), problem };
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = parent_dir(&current);
                return if dir.is_dir() {
                    Ok(Destination::Replace(current))
                } else {
                    Err(refuse(OutputProblem::NoSuchDirectory))
                };
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let link = std::fs::read_link(&current).map_err(|e| Error::io(path, e))?;
            current = if link.is_absolute() { link } else { parent_dir(&current).join(link) };
            continue;
        }
        if kind.is_dir() {
            return Err(refuse(OutputProblem::Directory));
        }
        if kind.is_file() {
            // A file with no write permission bits was protected on purpose: refused even for root. Otherwise
            // opening for writing (without truncating) asks the kernel the question a shell redirect would.
            if meta.permissions().readonly() {
                return Err(refuse(OutputProblem::ReadOnly));
            }
            return match OpenOptions::new().write(true).open(&current) {
                Ok(_) => Ok(Destination::Replace(current)),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    Err(refuse(OutputProblem::ReadOnly))
                }
                Err(e) => Err(Error::io(path, e)),
            };
        }
        return special(path, &current, &meta);
    }
    Err(refuse(OutputProblem::SymlinkLoop))
}

#[cfg(unix)]
fn special(path: &Path, current: &Path, meta: &std::fs::Metadata) -> Result<Destination> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let problem = if kind.is_socket() {
        OutputProblem::Socket
    } else if kind.is_block_device() {
        OutputProblem::BlockDevice
    } else {
        // Character devices (/dev/null, a terminal) and FIFOs.
        return Ok(Destination::InPlace(current.to_path_buf()));
    };
    Err(Error::Output { path: path.to_path_buf(), problem })
}

#[cfg(not(unix))]
fn special(_path: &Path, current: &Path, _meta: &std::fs::Metadata) -> Result<Destination> {
    Ok(Destination::InPlace(current.to_path_buf()))
}

/// The directory a file at `path` lives in (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks, before any work is done, that `output` can be written and is not the same file as any of
/// `inputs`. Files are compared by device and inode, so `./a.csv`, an absolute path and a symbolic link to
/// the same file are all caught. `-` (stdout) and outputs that do not exist yet always pass the second check.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let data = dir.path().join("data.csv");
/// std::fs::write(&data, "a,b\n1,2\n").unwrap();
/// let again = dir.path().join(".").join("data.csv");
/// let err = tessera_tensor::check_output(&again, &[data.as_path()]).unwrap_err();
/// assert!(matches!(err, tessera_tensor::Error::SameFile { .. }));
/// tessera_tensor::check_output(dir.path().join("out.csv"), &[data.as_path()]).unwrap();
/// ```
pub fn check_output(output: impl AsRef<Path>, inputs: &[&Path]) -> Result<()> {
    let output = output.as_ref();
    let Destination::Replace(file) = resolve(output)? else {
        return Ok(());
    };
    let Ok(out_meta) = std::fs::metadata(&file) else {
        return Ok(());
    };
    for input in inputs {
        if let Ok(in_meta) = std::fs::metadata(input)
            && same_file(&out_meta, &in_meta)
        {
            return Err(Error::SameFile { output: output.to_path_buf(), input: input.to_path_buf() });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    false
}
