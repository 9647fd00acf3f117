//! The server's lifecycle as the parts that run on their own see it:
//! whether it has stopped, and whether it is in lame duck mode. Listeners
//! and long-running tasks hold this handle instead of the server.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

#[derive(Debug)]
pub struct Lifecycle {
    lame_duck: AtomicBool,
    /// Flips to true when the server stops; every long-running task watches it.
    stopped: watch::Sender<bool>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            lame_duck: AtomicBool::new(false),
            stopped: watch::channel(false).0,
        }
    }
}

impl Lifecycle {
    /// Resolves once the server stops (at once if it has).
    pub async fn stopped(&self) {
        let mut rx = self.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }

    /// Stops the server: every task waiting in [`Lifecycle::stopped`] wakes.
    pub fn stop(&self) {
        self.stopped.send_replace(true);
    }

    pub fn is_lame_duck(&self) -> bool {
        self.lame_duck.load(Ordering::Relaxed)
    }

    /// Enters lame duck mode; returns false if it was already in it.
    pub fn enter_lame_duck(&self) -> bool {
        !self.lame_duck.swap(true, Ordering::Relaxed)
    }
}
