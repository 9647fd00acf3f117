//! Who may connect: authentication for each listener, the credentials a
//! listener has of its own, and revocations from the operator's claims.

use junction_nats::ConnectOptions;

use crate::account::Accounts;
use crate::auth::{AuthError, Identity};
use crate::conn::ClientSettings;
use crate::operator::{ClaimsHost, OperatorMode};
use crate::options::ListenerAuth;

use super::*;

impl Server {
    pub fn auth_required(&self) -> bool {
        self.operator.is_some() || self.auth().required()
    }

    /// Whether clients of this transport must CONNECT with credentials: the
    /// `websocket` block's own user, token or `no_auth_user` turn auth on for
    /// WebSocket clients even when the server has none, as in nats-server.
    pub fn auth_required_for(&self, transport: &str) -> bool {
        self.auth_required()
            || (transport == "websocket"
                && self.websocket_options().is_some_and(|ws| {
                    ws.auth.username.is_some() || ws.auth.token.is_some() || ws.auth.no_auth_user.is_some()
                }))
    }

    /// The settings of a connection of `transport` (`nats`, `websocket`,
    /// `mqtt`) under the options in force: handed to it when it starts and
    /// again at each reload.
    pub fn client_settings(&self, transport: &str) -> Arc<ClientSettings> {
        // Made under the cache's lock: a reload empties the cache after it
        // puts the new options in force, so nothing older can stay in it.
        let mut cache = self.client_settings.lock();
        if let Some((_, made)) = cache.iter().find(|(t, _)| t == transport) {
            return made.clone();
        }
        let opts = self.opts();
        let (ping_interval, auth_timeout) = match transport {
            "websocket" => self
                .websocket_options()
                .map_or((None, None), |w| (w.ping_interval, w.auth.timeout)),
            "mqtt" => (None, self.mqtt_options().and_then(|m| m.auth.timeout)),
            _ => (None, None),
        };
        let made = Arc::new(ClientSettings::new(&opts, ping_interval, auth_timeout));
        cache.push((transport.to_string(), made.clone()));
        made
    }

    /// Whether INFO carries a nonce for nkey or JWT signatures.
    pub fn needs_nonce(&self) -> bool {
        self.operator.is_some() || self.auth().needs_nonce()
    }

    /// Authenticates a CONNECT, whatever the method; `transport` is the
    /// connection type (`STANDARD`, `WEBSOCKET`, `MQTT`).
    pub fn authenticate(
        &self,
        connect: &ConnectOptions,
        nonce: &str,
        transport: &str,
    ) -> Result<Identity, AuthError> {
        if transport == "WEBSOCKET" {
            if let Some(ws) = self.websocket_options() {
                if let Some(id) = self.listener_credentials(&ws.auth, connect, transport)? {
                    return Ok(id);
                }
            }
        }
        match &self.operator {
            Some(op) if connect.jwt.is_some() => {
                let id = op.authenticate(&self.accounts, connect, nonce, transport)?;
                self.jetstream_for_account(&id.account);
                if let Some(max) = op.max_connections(&id.account.name) {
                    let name = &id.account.name;
                    // The connection being authenticated is still counted in `$G`;
                    // the other servers of the cluster count theirs too.
                    let remote = self.events().map_or(0, |e| e.remote_connections(name));
                    if self.clients_in(name).len() + remote >= max {
                        return Err(AuthError::AccountConnections);
                    }
                }
                Ok(id)
            }
            Some(_) if !self.auth().required() => Err(AuthError::NoCredentials),
            _ => self.auth().authenticate(connect, nonce, transport),
        }
    }

    /// A listener's own `authorization { user, password | token }` and
    /// `no_auth_user` (`websocket {}`, `mqtt {}`), which apply to its clients
    /// only, as in nats-server. `Ok(None)` means they do not decide and the
    /// server-wide rules apply.
    pub(crate) fn listener_credentials(
        &self,
        own: &ListenerAuth,
        connect: &ConnectOptions,
        transport: &str,
    ) -> Result<Option<Identity>, AuthError> {
        let anonymous = Identity::anonymous(self.global.clone());
        if let Some(token) = own.token.as_deref().filter(|t| !t.is_empty()) {
            return match &connect.auth_token {
                Some(given) if crate::auth::secret_matches(token, given) => Ok(Some(anonymous)),
                _ => Err(AuthError::BadToken),
            };
        }
        if let Some(user) = own.username.as_deref().filter(|u| !u.is_empty()) {
            let ok = connect.user.as_deref() == Some(user)
                && crate::auth::secret_matches(
                    own.password.as_deref().unwrap_or(""),
                    connect.pass.as_deref().unwrap_or(""),
                );
            return if ok {
                Ok(Some(Identity {
                    user: user.to_string(),
                    ..anonymous
                }))
            } else {
                Err(AuthError::BadPassword(user.to_string()))
            };
        }
        let no_credentials = connect.user.is_none()
            && connect.auth_token.is_none()
            && connect.nkey.is_none()
            && connect.jwt.is_none();
        if let (Some(name), true) = (own.no_auth_user.as_deref(), no_credentials) {
            let as_user = ConnectOptions {
                user: Some(name.to_string()),
                ..connect.clone()
            };
            return self.auth().authenticate_as(&as_user, transport).map(Some);
        }
        Ok(None)
    }

    /// Disconnects clients of `account` whose user JWT is now revoked.
    pub fn enforce_revocations(&self, account: &str) {
        let Some(op) = &self.operator else { return };
        for client in self.clients_in(account) {
            if op.is_revoked(account, &client.user(), client.issued_at()) {
                client.revoke();
            }
        }
    }
}

impl ClaimsHost for Server {
    fn operator(&self) -> Option<&OperatorMode> {
        self.operator.as_ref()
    }

    fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    fn identity(&self) -> (&str, &str) {
        (&self.name, &self.id)
    }

    fn claims_updated(&self, account: &str) {
        self.enforce_revocations(account);
        self.jetstream_claims_updated(account);
    }
}
