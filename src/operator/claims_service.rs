//! The system account's service for account JWT updates and lookups
//! (`$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE`, `…LOOKUP`), reporting through the
//! [`ClaimsHost`] the server implements.

use std::sync::Arc;

use crate::account::Accounts;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

use super::*;

/// What the claims service needs of the server it runs in.
pub trait ClaimsHost: Send + Sync {
    fn operator(&self) -> Option<&OperatorMode>;
    fn accounts(&self) -> &Accounts;
    /// The server's name and id, for the responses.
    fn identity(&self) -> (&str, &str);
    /// An account JWT was updated: revocations and JetStream limits follow.
    fn claims_updated(&self, account: &str);
}

/// The system account's handler for account JWT updates and lookups.
pub struct ClaimsService {
    host: std::sync::Weak<dyn ClaimsHost>,
}

impl ClaimsService {
    /// Subscribes the service in `host`'s system account.
    pub fn install(host: Arc<dyn ClaimsHost>) {
        let system = host.accounts().system.clone();
        let service: Arc<dyn Subscriber> = Arc::new(ClaimsService {
            host: Arc::downgrade(&host),
        });
        for subject in [
            "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE",
            "$SYS.REQ.CLAIMS.UPDATE",
            "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP",
        ] {
            system.subscribe_service(subject, service.clone());
        }
    }
}

impl Subscriber for ClaimsService {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let Some(operator) = host.operator() else {
            return;
        };
        let subject = String::from_utf8_lossy(msg.subject).into_owned();
        let body = &msg.payload[msg.header_len.unwrap_or(0)..];
        let response = if subject.ends_with(".CLAIMS.LOOKUP") {
            let key = subject.split('.').nth(3).unwrap_or("");
            operator.lookup(key).unwrap_or_default().into_bytes()
        } else {
            let text = String::from_utf8_lossy(body);
            let data = match operator.update(host.accounts(), &text) {
                Ok(key) => {
                    host.claims_updated(&key);
                    serde_json::json!({"account": key, "code": 200, "message": "jwt updated"})
                }
                Err(e) => serde_json::json!({"code": 400, "description": e}),
            };
            let (name, id) = host.identity();
            let body = serde_json::json!({"server": {"name": name, "id": id}, "data": data});
            serde_json::to_vec(&body).unwrap_or_default()
        };
        if let Some(reply) = msg.reply {
            host.accounts()
                .system
                .publish_internal_with(reply, &response, producer);
        }
    }
}
