//! Topic aliases the server sets towards an MQTT 5 client.

use std::collections::HashMap;

/// Server-to-client topic aliases (MQTT 5): a topic sent again goes as its
/// alias with an empty topic name, as many as the client's Topic Alias
/// Maximum allows, first come first served. Decided under the outlet's
/// lock, so an alias never reaches the client before the packet that set it.
#[derive(Default)]
pub(super) struct OutAliases {
    pub(super) max: u16,
    pub(super) by_topic: HashMap<Vec<u8>, u16>,
}

impl OutAliases {
    /// The alias for `topic`, and whether this packet sets it (it then
    /// carries the topic too). `None` when the topic goes out in full.
    pub(super) fn lookup(&mut self, topic: &[u8]) -> Option<(u16, bool)> {
        // An alias costs three bytes of properties: only longer topics gain.
        if self.max == 0 || topic.len() <= 3 {
            return None;
        }
        if let Some(&alias) = self.by_topic.get(topic) {
            return Some((alias, false));
        }
        let next = self.by_topic.len() as u16 + 1;
        if next > self.max {
            return None;
        }
        self.by_topic.insert(topic.to_vec(), next);
        Some((next, true))
    }

    /// Takes back an alias just set by a packet that was not sent after all.
    pub(super) fn forget(&mut self, topic: &[u8]) {
        self.by_topic.remove(topic);
    }
}
