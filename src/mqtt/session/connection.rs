//! The session as the server's connection record: `/connz`, limits,
//! revocation and reload checks read it through `Connection`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use junction_mqtt::reason;

use super::*;
use crate::account::Account;
use crate::conn::{ClientMeta, CloseReason, Connection, Counters, TlsInfo};

impl Connection for Session {
    fn id(&self) -> u64 {
        self.id
    }
    fn transport(&self) -> &'static str {
        self.transport
    }
    fn remote(&self) -> SocketAddr {
        self.remote
    }
    fn account(&self) -> Arc<Account> {
        Session::account(self)
    }
    fn user(&self) -> String {
        self.user.lock().clone()
    }
    fn issued_at(&self) -> i64 {
        self.issued_at.load(Ordering::Relaxed) as i64
    }
    fn started(&self) -> SystemTime {
        self.started
    }
    fn last_activity(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.last_activity.load(Ordering::Relaxed))
    }
    fn rtt(&self) -> Duration {
        Duration::ZERO
    }
    fn counters(&self) -> &Counters {
        &self.counters
    }
    fn out_counts(&self) -> (u64, u64) {
        self.outlet.out_counts()
    }
    fn pending_bytes(&self) -> usize {
        self.outlet.pending()
    }
    fn subscription_subjects(&self) -> Vec<String> {
        self.state.lock().subs.keys().cloned().collect()
    }
    fn meta(&self) -> ClientMeta {
        ClientMeta::default()
    }
    fn tls(&self) -> Option<TlsInfo> {
        None
    }
    fn close_reason(&self) -> Option<CloseReason> {
        *self.close_reason.lock()
    }
    fn mqtt_client(&self) -> Option<String> {
        self.client_id.get().cloned()
    }
    fn close(&self, reason: CloseReason) {
        let code = match reason {
            CloseReason::ServerShutdown => reason::SERVER_UNAVAILABLE,
            CloseReason::DuplicateClientId => reason::SESSION_TAKEN_OVER,
            _ => reason::UNSPECIFIED_ERROR,
        };
        self.disconnect(code, reason);
    }
    fn revoke(&self) {
        self.disconnect(reason::NOT_AUTHORIZED, CloseReason::AuthenticationViolation);
    }
    fn set_max_pending(&self, bytes: usize) {
        self.outlet.set_max_pending(bytes);
    }
    fn recheck_auth(&self) {
        let Some((username, password)) = self.credentials.lock().clone() else {
            return;
        };
        let opts = self.server.mqtt_options();
        let checked = crate::mqtt::auth::authenticate(
            &self.server,
            opts.as_deref(),
            username.as_deref(),
            password.as_deref(),
        );
        match checked {
            Ok(id) if Arc::ptr_eq(&id.account, &Session::account(self)) => {
                *self.user.lock() = id.user;
                self.permissions.store(id.permissions.map(Arc::new));
            }
            _ => {
                tracing::info!(cid = self.id, "MQTT client no longer authorized after the reload");
                Connection::revoke(self);
            }
        }
    }
}
