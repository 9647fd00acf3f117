//! The log file (`-l`, `log_file`): written through a handle that SIGUSR1
//! (`--signal reopen`) reopens at the same path, so logrotate can move the
//! file away and new lines go to a new one, as with nats-server.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

pub struct LogFile {
    /// Where it is; a configuration reload may move it.
    path: Mutex<PathBuf>,
    file: Mutex<File>,
}

/// The server's log file, when it logs to one.
static LOG_FILE: OnceLock<Arc<LogFile>> = OnceLock::new();

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl LogFile {
    /// Opens `path` for appending and makes it the file `reopen` acts on.
    pub fn install(path: &Path) -> io::Result<Arc<LogFile>> {
        let log = Arc::new(LogFile {
            path: Mutex::new(path.to_path_buf()),
            file: Mutex::new(open(path)?),
        });
        let _ = LOG_FILE.set(log.clone());
        Ok(log)
    }

    /// Closes the file and opens its path again. Without a log file there
    /// is nothing to do.
    pub fn reopen() -> io::Result<bool> {
        let Some(log) = LOG_FILE.get() else {
            return Ok(false);
        };
        let path = log.path.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let fresh = open(&path)?;
        *log.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(true)
    }

    /// Opens the file a reload names, before anything changes.
    pub fn open_for_reload(path: &Path) -> io::Result<File> {
        open(path)
    }

    /// Logs to `file`, opened at `path`, from now on (a reload moved the
    /// log file). Without a log file in use there is nothing to move.
    pub fn move_to(path: &Path, file: File) -> bool {
        let Some(log) = LOG_FILE.get() else {
            return false;
        };
        *log.path.lock().unwrap_or_else(|e| e.into_inner()) = path.to_path_buf();
        *log.file.lock().unwrap_or_else(|e| e.into_inner()) = file;
        true
    }
}

/// Writes go to whichever file is open now (`Arc<LogFile>` is then the
/// subscriber's writer).
impl Write for &LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}
