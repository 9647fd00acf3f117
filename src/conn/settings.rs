//! A connection's own settings: the limits and timers it lives by, made
//! from the options in force for its listener. Each connection is handed
//! them when it starts and again at every reload, so a setting such as
//! `max_pending` can be followed from `ClientSettings::new` to where it
//! acts (the outlet, the slow consumer check).

use std::time::Duration;

use crate::options::Options;

#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    /// Bytes that may wait for the peer before it is cut off.
    pub max_pending: usize,
    /// How long a write may make no progress before the peer is cut off.
    pub write_deadline: Duration,
    /// Keep-alive PINGs, and how many may go unanswered.
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub max_payload: usize,
    pub max_control_line: usize,
    /// Subscriptions a connection may hold (0: no limit).
    pub max_subscriptions: usize,
    /// How long a new connection has to authenticate.
    pub auth_timeout: Duration,
    /// `-V`: protocol tracing.
    pub trace: bool,
}

impl ClientSettings {
    /// The settings for a connection of one listener: `options` in force,
    /// with the listener's own `ping_interval` and `auth_timeout` when it
    /// has them (WebSocket's, MQTT's).
    pub fn new(options: &Options, ping_interval: Option<Duration>, auth_timeout: Option<Duration>) -> Self {
        let given = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        ClientSettings {
            max_pending: options.max_pending,
            write_deadline: options.write_deadline,
            ping_interval: given(ping_interval).unwrap_or(options.ping_interval),
            ping_max: options.ping_max,
            max_payload: options.max_payload,
            max_control_line: options.max_control_line,
            max_subscriptions: options.max_subscriptions,
            auth_timeout: given(auth_timeout).unwrap_or(options.auth_timeout),
            trace: options.trace,
        }
    }
}
