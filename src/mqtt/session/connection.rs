//! The session as the server's connection record: `/connz`, limits,
//! revocation and reload checks read it through `Connection`.

use std::sync::Arc;

use junction_mqtt::reason;

use super::*;
use crate::conn::{CloseReason, Connection};

impl Connection for Session {
    fn core(&self) -> &ConnCore {
        &self.core
    }
    fn subscription_subjects(&self) -> Vec<String> {
        self.state.lock().subs.keys().cloned().collect()
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
    fn recheck_auth(&self) {
        let Some((username, password)) = self.credentials.lock().clone() else {
            return;
        };
        let opts = self.server.mqtt_options();
        let checked = crate::mqtt::auth::authenticate(
            &self.server,
            opts.as_deref().map(|o| &o.auth),
            username.as_deref(),
            password.as_deref(),
        );
        match checked {
            Ok(id) if Arc::ptr_eq(&id.account, &self.account()) => {
                self.core.set_user(id.user, id.permissions);
            }
            _ => {
                tracing::info!(cid = self.id, "MQTT client no longer authorized after the reload");
                Connection::revoke(self);
            }
        }
    }
}
