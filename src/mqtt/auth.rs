//! Who an MQTT client is: its CONNECT user name and password checked
//! against the same users, tokens, nkeys and JWTs as NATS clients, so every
//! MQTT client lands in exactly one account.
//!
//! As in nats-server, the password also serves as a token (when the server
//! uses a token) and as a user JWT (with trusted operators; the JWT must be
//! a bearer token, since an MQTT client cannot sign a nonce). A user
//! configured by nkey connects with the nkey as user name and its seed as
//! password, which the server checks derives that nkey.

use junction_nats::ConnectOptions;

use crate::auth::{AuthError, Identity};
use crate::options::ListenerAuth;
use crate::server::Server;

/// The connection type MQTT clients have in `allowed_connection_types`.
pub const CONNECTION_TYPE: &str = "MQTT";

pub fn authenticate(
    server: &Server,
    own: Option<&ListenerAuth>,
    username: Option<&str>,
    password: Option<&[u8]>,
) -> Result<Identity, AuthError> {
    let password = password.map(|p| String::from_utf8_lossy(p).into_owned());
    if let Some(own) = own {
        // The `mqtt { authorization { } no_auth_user }` rules, which apply to
        // MQTT only: the password stands for the token.
        let connect = ConnectOptions {
            user: username.map(str::to_string),
            pass: password.clone(),
            auth_token: password.clone(),
            ..ConnectOptions::default()
        };
        if let Some(id) = server.listener_credentials(own, &connect, CONNECTION_TYPE)? {
            return Ok(id);
        }
    }
    if let (Some(nkey), Some(seed)) = (
        username.filter(|u| u.starts_with('U') && u.len() == 56),
        &password,
    ) {
        if seed.starts_with("SU") {
            return match nkeys::KeyPair::from_seed(seed) {
                Ok(kp) if kp.public_key() == nkey => {
                    server.auth().authenticate_nkey_holder(nkey, CONNECTION_TYPE)
                }
                _ => Err(AuthError::BadSignature(nkey.to_string())),
            };
        }
    }
    // With a server token and no users, the password is the token whatever
    // the user name says (MQTT clients often must send one).
    let token_only = server.opts().authorization.is_some() && server.opts().users.is_empty();
    let connect = ConnectOptions {
        user: username.filter(|_| !token_only).map(str::to_string),
        pass: password.clone(),
        auth_token: password.clone(),
        jwt: server.operator.as_ref().and(password),
        ..ConnectOptions::default()
    };
    server.authenticate(&connect, "", CONNECTION_TYPE)
}
