//! A sans-IO codec for MQTT 3.1.1 (protocol level 4) and MQTT 5 (level 5).
//!
//! [`Decoder`] takes bytes as they arrive and returns whole control packets;
//! [`encode`] writes one. Neither touches a socket, so both are tested byte
//! by byte, split at every position, and with mutated input. What a session
//! does with a packet (auth, sessions, QoS flows) is the server's business.

mod codes;
mod decode;
mod encode;
mod packet;
mod properties;

#[cfg(test)]
mod tests;

pub use codes::{connack_v3, reason};
pub use decode::{DecodeError, Decoder};
pub use encode::{encode, encoded_len, PublishRef};
pub use packet::*;
pub use properties::Properties;

/// Largest remaining length the variable-byte encoding can express.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// The protocol revision a client connected with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// MQTT 3.1.1, protocol level 4.
    V311,
    /// MQTT 5, protocol level 5.
    V5,
}

impl Version {
    pub fn level(self) -> u8 {
        match self {
            Version::V311 => 4,
            Version::V5 => 5,
        }
    }
}

/// Quality of service of a publication or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    pub fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}
