//! The file system at the edges of a command: inputs read only from regular files within a
//! size limit, outputs written as a set that replaces the old files together or not at all.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What an input file holds, which sets its size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A model spec (TOML): at most [`SPEC_LIMIT`] bytes.
    Spec,
    /// A data table (CSV, or a UCI folder's files): at most [`DATA_LIMIT`] bytes.
    Csv,
    /// A model blob: at most [`BLOB_LIMIT`] bytes.
    Blob,
}

/// Largest spec file read: 1 MiB.
pub const SPEC_LIMIT: u64 = 1 << 20;
/// Largest data file read: 1 GiB.
pub const DATA_LIMIT: u64 = 1 << 30;
/// Largest blob file read: 16 MiB (the runtime's largest model, 8 dense layers of 256 × 256
/// f32 weights, is about 2 MiB).
pub const BLOB_LIMIT: u64 = 16 << 20;

impl Kind {
    /// The size limit in bytes.
    pub const fn limit(self) -> u64 {
        match self {
            Self::Spec => SPEC_LIMIT,
            Self::Csv => DATA_LIMIT,
            Self::Blob => BLOB_LIMIT,
        }
    }

    const fn what(self) -> &'static str {
        match self {
            Self::Spec => "a spec",
            Self::Csv => "a data file",
            Self::Blob => "a blob",
        }
    }
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

/// Opens `path` for reading if it is a regular file no larger than `kind`'s limit. A FIFO,
/// device or folder is refused without blocking on it; reading past the limit (a file that
/// grows) fails.
///
/// # Errors
/// [`Error::Io`] with the path, or [`Error::Data`] saying what the path is or how large.
pub fn open(path: &Path, kind: Kind) -> Result<Limited<File>> {
    let file = open_nonblocking(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a pipe, socket or device)"
        };
        return Err(Error::data(
            path,
            format!("is {what}: {} must be a regular file", kind.what()),
        ));
    }
    if meta.len() > kind.limit() {
        return Err(too_large(path, kind));
    }
    Ok(Limited {
        inner: file,
        left: kind.limit(),
        path: path.to_path_buf(),
        kind,
    })
}

fn too_large(path: &Path, kind: Kind) -> Error {
    Error::data(
        path,
        format!(
            "is larger than {}, the limit for {}",
            mib(kind.limit()),
            kind.what()
        ),
    )
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO with no writer returns at once (regular files ignore it).
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// Reads all of `path` (see [`open`]).
///
/// # Errors
/// As [`open`], and read errors.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>> {
    let mut f = open(path, kind)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// Reads all of `path` as UTF-8 text (see [`open`]).
///
/// # Errors
/// As [`read`], and text that is not UTF-8 (with the byte offset).
pub fn read_text(path: &Path, kind: Kind) -> Result<String> {
    String::from_utf8(read(path, kind)?).map_err(|e| {
        Error::data(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// A reader that fails rather than read more than its kind's limit.
#[derive(Debug)]
pub struct Limited<R> {
    inner: R,
    left: u64,
    path: PathBuf,
    kind: Kind,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| std::io::Error::other(too_large(&self.path, self.kind).to_string()))?;
        Ok(n)
    }
}

/// A file's identity: its device and inode where there are such, else its canonical path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Identity {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
}

fn identity_of_existing(path: &Path) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Identity::Inode(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        path.canonicalize().ok().map(Identity::Path)
    }
}

/// Where `path` would be: its folder made canonical, then its file name.
fn canonical_target(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(dir.canonicalize().ok()?.join(name))
}

/// The files one command writes: each is staged in a temporary file beside its target, and
/// [`Outputs::commit`] renames them into place only once every one is written and synced, in
/// the order added (so add the blob last). A failure before that leaves every old file as
/// it was; a dropped set removes its temporaries.
#[derive(Debug, Default)]
pub struct Outputs {
    inputs: Vec<PathBuf>,
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Outputs {
    /// A set that must not write over any of `inputs`.
    pub fn new(inputs: &[&Path]) -> Self {
        Self {
            inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
            files: Vec::new(),
        }
    }

    /// Adds `bytes` to be written to `path`.
    pub fn add(&mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) {
        self.files.push((path.into(), bytes.into()));
    }

    /// Checks the set before anything is written: see [`check_outputs`].
    ///
    /// # Errors
    /// As [`check_outputs`].
    pub fn check(&self) -> Result<()> {
        let inputs: Vec<&Path> = self.inputs.iter().map(PathBuf::as_path).collect();
        let outputs: Vec<&Path> = self.files.iter().map(|(p, _)| p.as_path()).collect();
        check_outputs(&inputs, &outputs)
    }

    /// Writes every file to a temporary of a random name, created exclusively in its target's
    /// folder (it never follows an existing path), syncs them all, then renames them into
    /// place in the order added and syncs the folders.
    ///
    /// # Errors
    /// [`Error::Output`] from [`Outputs::check`], or [`Error::Io`] with the path; before the
    /// renames, no target has changed.
    pub fn commit(self) -> Result<()> {
        self.check()?;
        let mut staged = Vec::with_capacity(self.files.len());
        for (path, bytes) in &self.files {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
            let prefix = format!(".{name}.");
            let mut builder = tempfile::Builder::new();
            builder.prefix(&prefix).suffix(".tmp");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                // What `File::create` gives: 0666 less the umask (tempfile's default is 0600).
                builder.permissions(std::fs::Permissions::from_mode(0o666));
            }
            let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
            tmp.write_all(bytes)
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(|e| Error::io(path, e))?;
            staged.push((tmp, path));
        }
        let mut dirs = Vec::new();
        for (tmp, path) in staged {
            tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
            dirs.push(path.parent().map(Path::to_path_buf).unwrap_or_default());
        }
        #[cfg(unix)]
        for dir in dirs {
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            // A folder's entries are durable once the folder is synced.
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Checks, before anything is written, that no output is a folder, an input, or the same
/// file as another output (compared by inode and by canonical path).
///
/// # Errors
/// [`Error::Output`] naming the two paths, or the folder.
pub fn check_outputs(inputs: &[&Path], outputs: &[&Path]) -> Result<()> {
    let ids_of = |p: &Path| -> Vec<Identity> {
        let mut ids: Vec<Identity> = identity_of_existing(p).into_iter().collect();
        ids.extend(canonical_target(p).map(Identity::Path));
        ids
    };
    let inputs: Vec<(Vec<Identity>, &Path)> = inputs.iter().map(|&p| (ids_of(p), p)).collect();
    let mut seen: Vec<(Vec<Identity>, &Path)> = Vec::new();
    for &path in outputs {
        if path.is_dir() {
            return Err(Error::Output(format!(
                "{}: is a folder; give a file name for the output",
                path.display()
            )));
        }
        let ids = ids_of(path);
        if ids.is_empty() {
            return Err(Error::Output(format!(
                "{}: its folder does not exist",
                path.display()
            )));
        }
        let same = |(other, _): &&(Vec<Identity>, &Path)| other.iter().any(|i| ids.contains(i));
        if let Some((_, input)) = inputs.iter().find(same) {
            return Err(Error::Output(format!(
                "{}: is the input {}; writing it would destroy it",
                path.display(),
                input.display()
            )));
        }
        if let Some((_, other)) = seen.iter().find(same) {
            return Err(Error::Output(format!(
                "{} and {} are the same file: each output needs its own",
                other.display(),
                path.display()
            )));
        }
        seen.push((ids, path));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_replaces_all_files_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "old a").unwrap();
        std::fs::write(&b, "old b").unwrap();
        let mut out = Outputs::new(&[]);
        out.add(&a, "new a");
        out.add(dir.path().join("missing/b"), "new b");
        assert!(out.commit().is_err());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        let mut out = Outputs::new(&[]);
        out.add(&a, "new a");
        out.add(&b, "new b");
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "temporaries left behind");
    }

    #[test]
    fn outputs_may_not_be_inputs_or_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "input").unwrap();
        let via_dot = dir.path().join(".").join("a");
        let mut out = Outputs::new(&[&a]);
        out.add(&via_dot, "x");
        assert!(
            out.check()
                .unwrap_err()
                .to_string()
                .contains("is the input")
        );
        let mut out = Outputs::new(&[]);
        out.add(dir.path().join("new"), "x");
        out.add(dir.path().join("./new"), "y");
        assert!(out.check().unwrap_err().to_string().contains("same file"));
        #[cfg(unix)]
        {
            let link = dir.path().join("hard");
            std::fs::hard_link(&a, &link).unwrap();
            let mut out = Outputs::new(&[&a]);
            out.add(&link, "x");
            assert!(out.check().is_err(), "a hard link to an input");
        }
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_large_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo (coreutils) failed");
        let e = open(&fifo, Kind::Blob).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = open(Path::new("/dev/zero"), Kind::Spec)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let big = dir.path().join("big");
        let f = File::create(&big).unwrap();
        f.set_len(SPEC_LIMIT + 1).unwrap();
        let e = open(&big, Kind::Spec).unwrap_err().to_string();
        assert!(e.contains("larger than 1 MiB"), "{e}");
    }
}
