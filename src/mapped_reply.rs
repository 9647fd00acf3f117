//! Mapped replies between clusters: `_GR_.<cluster>.<server>.<reply>`,
//! where `<cluster>` and `<server>` are six-character hashes of the origin
//! gateway's name and of its server's id, computed as nats-server does.

use sha2::Digest;

/// The prefix of a mapped reply.
pub const PREFIX: &[u8] = b"_GR_.";
/// Characters of each hash.
const HASH_LEN: usize = 6;
/// Where the cluster hash, the server hash and the plain reply start.
const CLUSTER_AT: usize = PREFIX.len();
const SERVER_AT: usize = CLUSTER_AT + HASH_LEN + 1;
const SUBJECT_AT: usize = SERVER_AT + HASH_LEN + 1;

/// nats-server's hash of a name: the first bytes of its SHA-256, each
/// turned into one of 62 letters and digits.
pub fn hash(name: &str) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = sha2::Sha256::digest(name.as_bytes());
    digest[..HASH_LEN]
        .iter()
        .map(|b| DIGITS[usize::from(*b) % DIGITS.len()] as char)
        .collect()
}

/// The prefix this server maps replies with: `_GR_.<cluster>.<server>.`.
pub fn prefix(cluster: &str, server_id: &str) -> Vec<u8> {
    format!("_GR_.{}.{}.", hash(cluster), hash(server_id)).into_bytes()
}

/// A mapped subject taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed<'a> {
    pub cluster: &'a [u8],
    pub server: &'a [u8],
    /// The subject without the prefix.
    pub plain: &'a [u8],
}

/// `subject` taken apart, when it is a mapped reply.
pub fn parse(subject: &[u8]) -> Option<Routed<'_>> {
    if subject.len() <= SUBJECT_AT || !subject.starts_with(PREFIX) {
        return None;
    }
    Some(Routed {
        cluster: &subject[CLUSTER_AT..CLUSTER_AT + HASH_LEN],
        server: &subject[SERVER_AT..SERVER_AT + HASH_LEN],
        plain: &subject[SUBJECT_AT..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_as_nats_server_makes_them() {
        // From a request between two nats-server 2.15.1 gateways: cluster
        // "A", server NAGTF3…, mapped `_INBOX.a` to this.
        assert_eq!(hash("A"), "NUmM6c");
        assert_eq!(
            hash("NAGTF3ELIJGKOELUCB32SL653QRUG7WVMCIDN2OWHQFSPMYDLBHJ7WK7"),
            "BV1nNJ"
        );
        assert_eq!(
            prefix("A", "NAGTF3ELIJGKOELUCB32SL653QRUG7WVMCIDN2OWHQFSPMYDLBHJ7WK7"),
            b"_GR_.NUmM6c.BV1nNJ."
        );
    }

    #[test]
    fn mapped_subjects_are_taken_apart() {
        let r = parse(b"_GR_.NUmM6c.BV1nNJ._INBOX.a").unwrap();
        assert_eq!(
            (r.cluster, r.server, r.plain),
            (&b"NUmM6c"[..], &b"BV1nNJ"[..], &b"_INBOX.a"[..])
        );
        assert_eq!(parse(b"_GR_.NUmM6c.BV1nNJ."), None);
        assert_eq!(parse(b"_INBOX.a"), None);
    }
}
