//! The log file (`-l`, `log_file`): written through a handle that SIGUSR1
//! (`--signal reopen`) reopens at the same path, so logrotate can move the
//! file away and new lines go to a new one, as with nats-server. With
//! `logfile_size_limit` it rotates itself as nats-server does: past the
//! limit the file is renamed `<file>.<yyyy.mm.dd.hh.mm.ss.nnnnnnnnn>`, a new
//! one is opened, and with `logfile_max_num` the oldest are deleted. A
//! reload may start or stop logging to a file: `LogOutput` sends each line
//! to the file in force, or to stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct LogFile {
    /// Where it is; a configuration reload may move it.
    path: Mutex<PathBuf>,
    /// The open file and the bytes in it.
    file: Mutex<(File, u64)>,
    /// `logfile_size_limit` (0: none) and `logfile_max_num` (0: keep all).
    limit: AtomicU64,
    max_num: AtomicUsize,
}

/// The server's log file, when it logs to one.
static LOG_FILE: parking_lot::Mutex<Option<Arc<LogFile>>> = parking_lot::Mutex::new(None);

fn current() -> Option<Arc<LogFile>> {
    LOG_FILE.lock().clone()
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The file and how much it holds already.
fn open_sized(path: &Path) -> io::Result<(File, u64)> {
    let file = open(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, len))
}

impl LogFile {
    /// Opens `path` for appending and logs to it from now on.
    pub fn install(path: &Path) -> io::Result<()> {
        Self::start(path, open_sized(path)?);
        Ok(())
    }

    fn start(path: &Path, file: (File, u64)) {
        *LOG_FILE.lock() = Some(Arc::new(LogFile {
            path: Mutex::new(path.to_path_buf()),
            file: Mutex::new(file),
            limit: AtomicU64::new(0),
            max_num: AtomicUsize::new(0),
        }));
    }

    /// Whether lines go to a log file (or to stderr).
    pub fn in_use() -> bool {
        LOG_FILE.lock().is_some()
    }

    /// Closes the file and opens its path again. Without a log file there
    /// is nothing to do.
    pub fn reopen() -> io::Result<bool> {
        let Some(log) = current() else {
            return Ok(false);
        };
        let path = log.path.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let fresh = open_sized(&path)?;
        *log.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(true)
    }

    /// Sets `logfile_size_limit` and `logfile_max_num` (at start and on a
    /// reload).
    pub fn set_rotation(limit: u64, max_num: usize) {
        if let Some(log) = current() {
            log.limit.store(limit, Ordering::Relaxed);
            log.max_num.store(max_num, Ordering::Relaxed);
        }
    }

    /// Past the size limit: renames the file with the time, opens a new one
    /// and deletes the oldest past `logfile_max_num`. Called with the file's
    /// lock held.
    fn rotate(&self, open_file: &mut (File, u64)) -> io::Result<()> {
        let path = self.path.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let stamp = chrono::Local::now().format("%Y.%m.%d.%H.%M.%S.%9f");
        let mut backup = path.clone().into_os_string();
        backup.push(format!(".{stamp}"));
        std::fs::rename(&path, &backup)?;
        *open_file = (open(&path)?, 0);
        let line = format!(
            "{}  INFO Rotated log, backup saved as {:?}\n",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            Path::new(&backup).display().to_string()
        );
        open_file.0.write_all(line.as_bytes())?;
        open_file.1 = line.len() as u64;
        let keep = self.max_num.load(Ordering::Relaxed);
        if keep > 0 {
            purge(&path, keep - 1);
        }
        Ok(())
    }

    /// Opens the file a reload names, before anything changes.
    pub fn open_for_reload(path: &Path) -> io::Result<File> {
        open(path)
    }

    /// Logs to `file`, opened at `path`, from now on: a reload moved the
    /// log file, or started logging to one.
    pub fn move_to(path: &Path, file: File) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let Some(log) = current() else {
            return Self::start(path, (file, len));
        };
        // The file's lock first, as in `rotate`.
        let mut open_file = log.file.lock().unwrap_or_else(|e| e.into_inner());
        *log.path.lock().unwrap_or_else(|e| e.into_inner()) = path.to_path_buf();
        *open_file = (file, len);
    }

    /// Lines go to stderr from now on (a reload dropped `log_file`).
    pub fn stop() {
        *LOG_FILE.lock() = None;
    }
}

/// The logger's writer: each line goes to the log file in force, or to
/// stderr when there is none.
pub struct LogOutput;

pub enum LogWriter {
    File(Arc<LogFile>),
    Stderr(io::Stderr),
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogOutput {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        match current() {
            Some(log) => LogWriter::File(log),
            None => LogWriter::Stderr(io::stderr()),
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LogWriter::File(log) => (&**log).write(buf),
            LogWriter::Stderr(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            LogWriter::File(log) => (&**log).flush(),
            LogWriter::Stderr(e) => e.flush(),
        }
    }
}

/// Writes go to whichever file is open now.
impl Write for &LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut open_file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let n = open_file.0.write(buf)?;
        open_file.1 += n as u64;
        let limit = self.limit.load(Ordering::Relaxed);
        if limit > 0 && open_file.1 > limit {
            if let Err(e) = self.rotate(&mut open_file) {
                // Tried again after as much again, as nats-server does.
                self.limit.store(limit.saturating_mul(2), Ordering::Relaxed);
                let _ = writeln!(open_file.0, "Unable to rotate the log file: {e}");
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.lock().unwrap_or_else(|e| e.into_inner()).0.flush()
    }
}

/// Deletes the oldest rotated copies of `path` beyond `backups`.
fn purge(path: &Path, backups: usize) {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.", base.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| {
            name.strip_prefix(&prefix).is_some_and(|stamp| {
                chrono::NaiveDateTime::parse_from_str(stamp, "%Y.%m.%d.%H.%M.%S.%9f").is_ok()
            })
        })
        .collect();
    // The stamps sort as the times do.
    found.sort();
    let extra = found.len().saturating_sub(backups);
    for name in &found[..extra] {
        let _ = std::fs::remove_file(dir.join(name));
    }
}
