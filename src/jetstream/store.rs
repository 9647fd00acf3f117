//! What a stream keeps: messages by sequence, in memory or on disk. Both
//! stores share the bookkeeping here (the index of live sequences, per-subject
//! counts, the stream state) and differ only in where the bytes live.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

/// One stored message. `headers` is the raw NATS header block
/// (`NATS/1.0\r\n…\r\n\r\n`), empty when the message had none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub seq: u64,
    pub subject: Bytes,
    pub headers: Bytes,
    pub payload: Bytes,
    /// Unix time in nanoseconds when the message was stored.
    pub time: i64,
}

impl StoredMsg {
    /// Bytes counted against `max_bytes`, as nats-server counts them:
    /// subject, headers, payload and a fixed record overhead.
    pub fn size(&self) -> u64 {
        record_size(self.subject.len(), self.headers.len(), self.payload.len())
    }
}

/// nats-server's per-message accounting: subject + headers + payload + 8-byte
/// sequence + 8-byte timestamp + 4-byte lengths (its `fileStoreMsgSize`).
pub fn record_size(subject: usize, headers: usize, payload: usize) -> u64 {
    (22 + subject + headers + payload + 8) as u64
}

/// The figures of `state` in a stream info.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreState {
    pub msgs: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_time: i64,
    pub last_seq: u64,
    pub last_time: i64,
    pub num_deleted: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt message store: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Where a live message is, and what the index needs to know of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot<L> {
    pub subject: u32,
    pub time: i64,
    pub size: u64,
    pub location: L,
}

/// The index shared by both stores: live sequences in order, subjects
/// interned, counts per subject, and the running state.
#[derive(Debug)]
pub(crate) struct Index<L> {
    pub slots: BTreeMap<u64, Slot<L>>,
    subjects: Vec<Bytes>,
    subject_ids: HashMap<Bytes, u32>,
    /// Live messages per subject id.
    per_subject: HashMap<u32, u64>,
    pub bytes: u64,
    /// Last sequence ever assigned (survives purges).
    pub last_seq: u64,
    pub last_time: i64,
    /// Lowest sequence that may still be live.
    pub first_seq: u64,
    /// The highest sequence ever removed: a consumer's cached count of the
    /// messages it has still to deliver stays right while this is below
    /// where it stands.
    pub removed_max: u64,
}

impl<L: Copy> Index<L> {
    pub fn new(first_seq: u64) -> Self {
        Index {
            slots: BTreeMap::new(),
            subjects: Vec::new(),
            subject_ids: HashMap::new(),
            per_subject: HashMap::new(),
            bytes: 0,
            last_seq: first_seq.saturating_sub(1),
            last_time: 0,
            first_seq: first_seq.max(1),
            removed_max: 0,
        }
    }

    fn intern(&mut self, subject: &[u8]) -> u32 {
        if let Some(&id) = self.subject_ids.get(subject) {
            return id;
        }
        let id = self.subjects.len() as u32;
        let s = Bytes::copy_from_slice(subject);
        self.subjects.push(s.clone());
        self.subject_ids.insert(s, id);
        id
    }

    pub fn subject(&self, id: u32) -> &Bytes {
        &self.subjects[id as usize]
    }

    /// Records a new message at `seq` (which must be past `last_seq`).
    pub fn insert(&mut self, seq: u64, subject: &[u8], time: i64, size: u64, location: L) {
        let id = self.intern(subject);
        *self.per_subject.entry(id).or_default() += 1;
        self.slots.insert(
            seq,
            Slot {
                subject: id,
                time,
                size,
                location,
            },
        );
        self.bytes += size;
        self.last_seq = self.last_seq.max(seq);
        self.last_time = time;
        if self.slots.len() == 1 {
            self.first_seq = seq;
        }
    }

    /// Forgets `seq`; returns its slot if it was live.
    pub fn remove(&mut self, seq: u64) -> Option<Slot<L>> {
        let slot = self.slots.remove(&seq)?;
        self.removed_max = self.removed_max.max(seq);
        self.bytes -= slot.size;
        if let Some(n) = self.per_subject.get_mut(&slot.subject) {
            *n -= 1;
            if *n == 0 {
                self.per_subject.remove(&slot.subject);
            }
        }
        if seq == self.first_seq {
            self.first_seq = self.slots.keys().next().copied().unwrap_or(self.last_seq + 1);
        }
        Some(slot)
    }

    /// Every live sequence below `seq`, oldest first.
    pub fn below(&self, seq: u64) -> Vec<u64> {
        self.slots.range(..seq).map(|(&s, _)| s).collect()
    }

    /// Moves the sequence on with nothing stored (a purge of everything
    /// with `seq` as the next first sequence).
    pub fn skip_to(&mut self, seq: u64) {
        if seq > self.last_seq + 1 {
            self.last_seq = seq - 1;
        }
        if self.slots.is_empty() {
            self.first_seq = self.last_seq + 1;
        }
    }

    pub fn state(&self) -> StoreState {
        let first = self.slots.iter().next();
        let msgs = self.slots.len() as u64;
        let first_seq = first.map_or(self.last_seq + 1, |(&s, _)| s);
        StoreState {
            msgs,
            bytes: self.bytes,
            first_seq,
            first_time: first.map_or(0, |(_, s)| s.time),
            last_seq: self.last_seq,
            last_time: if msgs == 0 { 0 } else { self.last_time },
            num_deleted: (self.last_seq + 1).saturating_sub(first_seq).saturating_sub(msgs),
        }
    }

    /// Live messages per subject, for `num_subjects` and `subjects_filter`.
    pub fn subject_counts(&self) -> impl Iterator<Item = (&Bytes, u64)> {
        self.per_subject
            .iter()
            .map(|(&id, &n)| (&self.subjects[id as usize], n))
    }

    pub fn num_subjects(&self) -> usize {
        self.per_subject.len()
    }

    /// Live messages on exactly `subject`.
    pub fn count_subject(&self, subject: &[u8]) -> u64 {
        self.subject_ids
            .get(subject)
            .and_then(|id| self.per_subject.get(id))
            .copied()
            .unwrap_or(0)
    }

    /// The newest live sequence whose subject `matches` accepts.
    pub fn last_matching(&self, mut matches: impl FnMut(&[u8]) -> bool) -> Option<u64> {
        self.slots
            .iter()
            .rev()
            .find(|(_, s)| matches(&self.subjects[s.subject as usize]))
            .map(|(&seq, _)| seq)
    }

    /// Live messages at or after `seq` whose subject `matches` accepts; each
    /// subject is tested once.
    pub fn count_matching(&self, seq: u64, mut matches: impl FnMut(&[u8]) -> bool) -> u64 {
        let mut verdicts: HashMap<u32, bool> = HashMap::new();
        let mut n = 0;
        for slot in self.slots.range(seq..).map(|(_, s)| s) {
            let ok = *verdicts
                .entry(slot.subject)
                .or_insert_with(|| matches(&self.subjects[slot.subject as usize]));
            n += ok as u64;
        }
        n
    }

    /// The first live sequence at or after `seq` whose subject `matches` accepts.
    pub fn next_matching(&self, seq: u64, mut matches: impl FnMut(&[u8]) -> bool) -> Option<u64> {
        self.slots
            .range(seq..)
            .find(|(_, s)| matches(&self.subjects[s.subject as usize]))
            .map(|(&seq, _)| seq)
    }

    /// The oldest live sequences of `subject`, for `max_msgs_per_subject`.
    pub fn oldest_of_subject(&self, subject: &[u8]) -> Option<u64> {
        let id = *self.subject_ids.get(subject)?;
        self.slots
            .iter()
            .find(|(_, s)| s.subject == id)
            .map(|(&seq, _)| seq)
    }
}

/// A stream's message store.
pub trait MsgStore: Send {
    /// Stores a message under the next sequence and returns it.
    fn append(&mut self, subject: &[u8], headers: &[u8], payload: &[u8], time: i64) -> Result<u64>;
    fn get(&self, seq: u64) -> Result<Option<StoredMsg>>;
    /// Removes one message; false if it was not there.
    fn remove(&mut self, seq: u64) -> Result<bool>;
    /// Removes one message that a retention policy let go (all its
    /// consumers are done with it). Its removal may reach the disk with
    /// the next write or sync instead of at once: if it is lost in a crash
    /// the message comes back below its consumers' ack floors, where the
    /// recovery drops it again.
    fn remove_settled(&mut self, seq: u64) -> Result<bool> {
        self.remove(seq)
    }
    /// Stores a message like `append`, but its bytes may wait in memory
    /// until `flush_held` (or the next write of any kind): a caller
    /// storing many messages in a row writes them with one system call,
    /// then flushes before it acknowledges them. Reads see it at once.
    fn append_deferred(&mut self, subject: &[u8], headers: &[u8], payload: &[u8], time: i64) -> Result<u64> {
        self.append(subject, headers, payload, time)
    }
    /// Writes what `remove_settled` and `append_deferred` held back.
    fn flush_held(&mut self) -> Result<()> {
        Ok(())
    }
    /// Removes every message below `seq`; returns how many went. With
    /// `seq` past the last, the next message gets sequence `seq`.
    fn purge_below(&mut self, seq: u64) -> Result<u64>;
    /// Makes `seq` the next sequence without removing anything (mirrors).
    fn skip_to(&mut self, seq: u64) -> Result<()>;
    fn state(&self) -> StoreState;
    /// The bookkeeping, for lookups by subject and time.
    fn index(&self) -> IndexView<'_>;
    /// Makes what was written durable (fsync); a no-op in memory.
    fn sync(&mut self) -> Result<()>;
    /// Handles to fsync without holding the stream's lock: the blocks
    /// written since the last call (file stores).
    fn sync_handles(&mut self) -> Vec<std::fs::File> {
        Vec::new()
    }
}

/// Read access to a store's index without its location type.
pub struct IndexView<'a> {
    pub(crate) subject_counts: Box<dyn Iterator<Item = (&'a Bytes, u64)> + 'a>,
    pub(crate) num_subjects: usize,
    pub(crate) finder: Box<dyn Finder + 'a>,
    pub(crate) removed_max: u64,
}

/// Searches over the live sequences of a store.
pub trait Finder {
    fn last_matching(&self, matches: &mut dyn FnMut(&[u8]) -> bool) -> Option<u64>;
    fn next_matching(&self, seq: u64, matches: &mut dyn FnMut(&[u8]) -> bool) -> Option<u64>;
    /// The subject of a live message, without reading it.
    fn subject_of(&self, seq: u64) -> Option<Bytes>;
    fn count_matching(&self, seq: u64, matches: &mut dyn FnMut(&[u8]) -> bool) -> u64;
    fn oldest_of_subject(&self, subject: &[u8]) -> Option<u64>;
    fn count_subject(&self, subject: &[u8]) -> u64;
    /// Sequences of messages stored before `time` (unix nanos).
    fn older_than(&self, time: i64) -> Vec<u64>;
    /// The first live sequence stored at or after `time`.
    fn first_at_or_after(&self, time: i64) -> Option<u64>;
}

impl<L: Copy> Finder for Index<L> {
    fn last_matching(&self, matches: &mut dyn FnMut(&[u8]) -> bool) -> Option<u64> {
        Index::last_matching(self, matches)
    }
    fn next_matching(&self, seq: u64, matches: &mut dyn FnMut(&[u8]) -> bool) -> Option<u64> {
        Index::next_matching(self, seq, matches)
    }
    fn count_matching(&self, seq: u64, matches: &mut dyn FnMut(&[u8]) -> bool) -> u64 {
        Index::count_matching(self, seq, matches)
    }
    fn subject_of(&self, seq: u64) -> Option<Bytes> {
        self.slots.get(&seq).map(|s| self.subject(s.subject).clone())
    }
    fn oldest_of_subject(&self, subject: &[u8]) -> Option<u64> {
        Index::oldest_of_subject(self, subject)
    }
    fn count_subject(&self, subject: &[u8]) -> u64 {
        Index::count_subject(self, subject)
    }
    fn older_than(&self, time: i64) -> Vec<u64> {
        self.slots
            .iter()
            .take_while(|(_, s)| s.time < time)
            .map(|(&seq, _)| seq)
            .collect()
    }
    fn first_at_or_after(&self, time: i64) -> Option<u64> {
        self.slots
            .iter()
            .find(|(_, s)| s.time >= time)
            .map(|(&seq, _)| seq)
    }
}

impl<L: Copy> Index<L> {
    pub fn view(&self) -> IndexView<'_> {
        IndexView {
            subject_counts: Box::new(self.subject_counts()),
            num_subjects: self.num_subjects(),
            finder: Box::new(IndexRef(self)),
            removed_max: self.removed_max,
        }
    }
}

struct IndexRef<'a, L>(&'a Index<L>);

impl<L: Copy> Finder for IndexRef<'_, L> {
    fn last_matching(&self, matches: &mut dyn FnMut(&[u8]) -> bool) -> Option<u64> {
        Finder::last_matching(self.0, matches)
    }
    fn next_matching(&self, seq: u64, matches: &mut dyn FnMut(&[u8]) -> bool) -> Option<u64> {
        Finder::next_matching(self.0, seq, matches)
    }
    fn count_matching(&self, seq: u64, matches: &mut dyn FnMut(&[u8]) -> bool) -> u64 {
        Finder::count_matching(self.0, seq, matches)
    }
    fn subject_of(&self, seq: u64) -> Option<Bytes> {
        Finder::subject_of(self.0, seq)
    }
    fn oldest_of_subject(&self, subject: &[u8]) -> Option<u64> {
        Finder::oldest_of_subject(self.0, subject)
    }
    fn count_subject(&self, subject: &[u8]) -> u64 {
        Finder::count_subject(self.0, subject)
    }
    fn older_than(&self, time: i64) -> Vec<u64> {
        self.0.older_than(time)
    }
    fn first_at_or_after(&self, time: i64) -> Option<u64> {
        self.0.first_at_or_after(time)
    }
}

/// `storage: memory`: the messages themselves live in the index.
pub struct MemoryStore {
    index: Index<()>,
    msgs: BTreeMap<u64, (Bytes, Bytes)>,
}

impl MemoryStore {
    pub fn new(first_seq: u64) -> Self {
        MemoryStore {
            index: Index::new(first_seq),
            msgs: BTreeMap::new(),
        }
    }
}

impl MsgStore for MemoryStore {
    fn append(&mut self, subject: &[u8], headers: &[u8], payload: &[u8], time: i64) -> Result<u64> {
        let seq = self.index.last_seq + 1;
        let size = record_size(subject.len(), headers.len(), payload.len());
        self.index.insert(seq, subject, time, size, ());
        self.msgs.insert(
            seq,
            (Bytes::copy_from_slice(headers), Bytes::copy_from_slice(payload)),
        );
        Ok(seq)
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>> {
        let (Some(slot), Some((headers, payload))) = (self.index.slots.get(&seq), self.msgs.get(&seq)) else {
            return Ok(None);
        };
        Ok(Some(StoredMsg {
            seq,
            subject: self.index.subject(slot.subject).clone(),
            headers: headers.clone(),
            payload: payload.clone(),
            time: slot.time,
        }))
    }

    fn remove(&mut self, seq: u64) -> Result<bool> {
        self.msgs.remove(&seq);
        Ok(self.index.remove(seq).is_some())
    }

    fn purge_below(&mut self, seq: u64) -> Result<u64> {
        let gone = self.index.below(seq);
        for s in &gone {
            self.remove(*s)?;
        }
        self.index.skip_to(seq);
        Ok(gone.len() as u64)
    }

    fn skip_to(&mut self, seq: u64) -> Result<()> {
        self.index.skip_to(seq);
        Ok(())
    }

    fn state(&self) -> StoreState {
        self.index.state()
    }

    fn index(&self) -> IndexView<'_> {
        self.index.view()
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_appends_gets_removes_and_purges() {
        let mut s = MemoryStore::new(1);
        assert_eq!(s.append(b"a", b"", b"one", 10).unwrap(), 1);
        assert_eq!(s.append(b"b", b"NATS/1.0\r\n\r\n", b"two", 20).unwrap(), 2);
        assert_eq!(s.append(b"a", b"", b"three", 30).unwrap(), 3);
        let m = s.get(2).unwrap().unwrap();
        assert_eq!(
            (&m.subject[..], &m.payload[..], m.time),
            (&b"b"[..], &b"two"[..], 20)
        );
        assert!(s.remove(2).unwrap());
        assert!(!s.remove(2).unwrap());
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq, st.num_deleted), (2, 1, 3, 1));
        assert_eq!(s.index().finder.count_subject(b"a"), 2);
        assert_eq!(s.purge_below(3).unwrap(), 1);
        assert_eq!(s.state().first_seq, 3);
        assert_eq!(s.purge_below(10).unwrap(), 1);
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq, st.bytes), (0, 10, 9, 0));
        assert_eq!(s.append(b"c", b"", b"", 40).unwrap(), 10);
    }
}
