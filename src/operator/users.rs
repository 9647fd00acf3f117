//! Users from JWTs: a client's user JWT and nonce signature checked
//! against its account, and the permissions and limits it grants.

use junction_nats::ConnectOptions;

use crate::account::Accounts;
use crate::auth::{AuthError, Identity, UserLimits};
use crate::jwt::{self};
use crate::options::{Permissions, ResponsePermission, SubjectPermission};
use crate::permissions::ClientPermissions;

use super::*;

impl OperatorMode {
    /// Authenticates a client presenting a user JWT.
    pub fn authenticate(
        &self,
        accounts: &Accounts,
        connect: &ConnectOptions,
        nonce: &str,
        transport: &str,
    ) -> Result<Identity, AuthError> {
        let text = connect.jwt.as_deref().ok_or(AuthError::NoCredentials)?;
        let user = jwt::decode::<jwt::User>(text).map_err(|e| AuthError::Jwt(e.to_string()))?;
        let account_key = user.account().to_string();
        let account = self
            .ensure_account(accounts, &account_key)
            .map_err(AuthError::Jwt)?;
        let claims = self
            .claims
            .read()
            .get(&account_key)
            .cloned()
            .ok_or_else(|| AuthError::Jwt("account claims missing".into()))?;
        claims
            .check_times()
            .map_err(|e| AuthError::Jwt(format!("account: {e}")))?;
        if !claims.did_sign(&user) {
            return Err(AuthError::Jwt(
                "user JWT issuer is not known to its account".into(),
            ));
        }
        if claims.is_user_revoked(&user) {
            return Err(AuthError::Revoked(user.sub.clone()));
        }
        let limits = &user.nats.limits;
        if limits.bearer_token {
            if claims.nats.limits.disallow_bearer {
                return Err(AuthError::Jwt(
                    "bearer tokens are not allowed in this account".into(),
                ));
            }
        } else {
            let sig = connect.sig.as_deref().unwrap_or("");
            if jwt::verify_nonce(&user.sub, nonce, sig).is_err() {
                return Err(AuthError::BadSignature(user.sub.clone()));
            }
        }
        if !limits.allowed_connection_types.is_empty()
            && !limits
                .allowed_connection_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(transport))
        {
            return Err(AuthError::ConnectionType(transport.to_string(), user.sub.clone()));
        }
        let perms =
            if user.has_empty_permissions() || (limits.publish.is_empty() && limits.subscribe.is_empty()) {
                permissions_from(
                    &claims.nats.default_permissions.publish,
                    &claims.nats.default_permissions.subscribe,
                    claims.nats.default_permissions.resp.as_ref(),
                )
            } else {
                permissions_from(&limits.publish, &limits.subscribe, limits.resp.as_ref())
            };
        Ok(Identity {
            account,
            user: user.sub.clone(),
            permissions: perms.map(|p| ClientPermissions::from_config(&p)),
            limits: UserLimits {
                subs: positive(limits.subs).or(positive(claims.nats.limits.subs)),
                payload: positive(limits.payload).or(positive(claims.nats.limits.payload)),
            },
            issued_at: user.iat,
        })
    }
}

fn permissions_from(
    publish: &jwt::Permission,
    subscribe: &jwt::Permission,
    resp: Option<&jwt::ResponsePermission>,
) -> Option<Permissions> {
    let rules = |p: &jwt::Permission| {
        (!p.is_empty()).then(|| SubjectPermission {
            allow: p.allow.clone(),
            deny: p.deny.clone(),
        })
    };
    let p = Permissions {
        publish: rules(publish),
        subscribe: rules(subscribe),
        allow_responses: resp.map(|r| ResponsePermission {
            max: if r.max > 0 { r.max as usize } else { 1 },
            expires: (r.ttl > 0).then(|| std::time::Duration::from_nanos(r.ttl as u64)),
        }),
    };
    (p.publish.is_some() || p.subscribe.is_some() || p.allow_responses.is_some()).then_some(p)
}
