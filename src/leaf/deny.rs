//! What never crosses a leaf node connection, either way: an account's
//! JetStream API, key-value and object store subjects, as nats-server
//! denies them on every leaf connection (and, for the system account,
//! JetStream's cluster traffic). Each side reaches the other's JetStream
//! through a domain instead (`$JS.<domain>.API.>`): two JetStreams joined
//! by a leaf connection would otherwise both answer.

use crate::permissions::covers;

/// Denied in every account.
const DENIED: [&[u8]; 3] = [b"$JS.API.>", b"$KV.>", b"$OBJ.>"];

/// Denied in the system account too.
const DENIED_SYSTEM: [&[u8]; 2] = [b"$JSC.>", b"$NRG.>"];

/// Whether interest in `subject` (a subscription's subject, wildcards and
/// all) or a message on it must not cross a leaf connection bound to an
/// account (`system`: whether that is the system account, asked only when
/// it matters). Interest only partly denied (`>`) crosses; the messages it
/// would take are filtered one by one.
pub fn denied(subject: &[u8], system: impl FnOnce() -> bool) -> bool {
    let hit = |patterns: &[&[u8]]| patterns.iter().any(|p| covers(p, subject));
    hit(&DENIED) || (hit(&DENIED_SYSTEM) && system())
}

#[cfg(test)]
mod tests {
    use super::denied;

    #[test]
    fn jetstream_kv_and_object_store_subjects_stay_on_their_side() {
        for subject in [
            "$JS.API.STREAM.CREATE.ORDERS",
            "$JS.API.>",
            "$KV.config.lamp",
            "$OBJ.files.C.x",
        ] {
            assert!(denied(subject.as_bytes(), || false), "{subject}");
        }
        for subject in [
            "$JS.hub.API.STREAM.INFO.S",
            "$JS.ACK.S.c.1.1.1.1.0",
            ">",
            "$JS.>",
            "orders.1",
        ] {
            assert!(!denied(subject.as_bytes(), || false), "{subject}");
        }
        assert!(!denied(b"$JSC.CI.x", || false));
        assert!(denied(b"$JSC.CI.x", || true));
        assert!(denied(b"$NRG.AE.x", || true));
    }
}
