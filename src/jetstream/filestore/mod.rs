//! `storage: file`: an append-only log in blocks, one directory per stream.
//!
//! Each block is a file named after the first sequence written to it and
//! holds records back to back:
//!
//! ```text
//! u32 length of the rest · u32 CRC-32 of the rest · u8 kind · u64 seq
//! · i64 time (unix ns) · u16 subject length · u32 header length
//! · subject · headers · payload
//! ```
//!
//! Kind 0 is a message, 1 erases the message `seq`, 2 erases everything
//! below `seq`, 3 moves the next sequence on to `seq` (a mirror skipping
//! what its origin deleted). A record reaches the kernel before the publisher is told it
//! was stored, so it survives the process being killed; `sync` (fsync) makes
//! it survive a power loss. Opening a store replays the blocks in order; a
//! record cut short or failing its checksum ends its block there (the block
//! is truncated), so a torn tail is dropped and nothing corrupt is served.
//! Once every message of the oldest blocks is gone, those files are deleted.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

mod record;

use super::store::{Index, IndexView, MsgStore, Result, StoreError, StoreState, StoredMsg};
use record::*;

/// A block is closed and a new one started past this size.
const BLOCK_MAX: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Location {
    block: u64,
    offset: u64,
    len: u32,
}

struct Block {
    file: File,
    path: PathBuf,
    size: u64,
    /// Live messages stored in this block.
    live: u64,
}

pub struct FileStore {
    dir: PathBuf,
    index: Index<Location>,
    /// Blocks by the first sequence they were opened for; the last one takes writes.
    blocks: BTreeMap<u64, Block>,
    scratch: Vec<u8>,
    /// fsync after every record (`sync_interval: always`).
    sync_always: bool,
    /// Blocks closed since the last periodic sync.
    unsynced: Vec<File>,
    /// The last chunk read ahead.
    cache: std::cell::RefCell<Option<ReadCache>>,
    /// Records not written yet: erase records of settled messages, and
    /// deferred appends, written with the next record, flush or sync (see
    /// `MsgStore::remove_settled` and `MsgStore::append_deferred`). They
    /// follow the last block's written bytes.
    held: Vec<u8>,
}

/// Held-back records are written once they reach this size.
const HELD_MAX: usize = 64 * 1024;

/// A chunk of a block read ahead for the records that follow.
struct ReadCache {
    block: u64,
    start: u64,
    data: Bytes,
}

/// How much a read of one record takes in of what follows it.
const READ_AHEAD: u64 = 256 * 1024;

fn block_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.blk"))
}

impl FileStore {
    /// Opens (or creates) the store in `dir`, replaying what is there.
    /// `first_seq` is the stream's configured first sequence.
    pub fn open(dir: &Path, first_seq: u64) -> Result<FileStore> {
        fs::create_dir_all(dir)?;
        let mut firsts: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".blk")?.parse().ok()
            })
            .collect();
        firsts.sort_unstable();
        let mut store = FileStore {
            dir: dir.to_path_buf(),
            index: Index::new(first_seq),
            blocks: BTreeMap::new(),
            scratch: Vec::new(),
            sync_always: false,
            unsynced: Vec::new(),
            cache: std::cell::RefCell::new(None),
            held: Vec::new(),
        };
        for first in firsts {
            store.replay(first)?;
        }
        // Blocks whose messages are all gone are dropped, oldest first.
        store.drop_empty_front();
        Ok(store)
    }

    /// Syncs every record to disk before it counts as stored.
    pub fn sync_always(&mut self, on: bool) {
        self.sync_always = on;
    }

    fn replay(&mut self, first: u64) -> Result<()> {
        let path = block_path(&self.dir, first);
        let data = fs::read(&path)?;
        let mut at = 0usize;
        let mut live = 0u64;
        let mut erased_here = Vec::new();
        loop {
            match decode(&data[at..]) {
                Ok(Some((rec, len))) => {
                    match rec.kind {
                        KIND_MSG if rec.seq > self.index.last_seq => {
                            let size = super::store::record_size(
                                rec.subject.len(),
                                rec.headers.len(),
                                rec.payload.len(),
                            );
                            let location = Location {
                                block: first,
                                offset: at as u64,
                                len: len as u32,
                            };
                            self.index.insert(rec.seq, rec.subject, rec.time, size, location);
                            live += 1;
                        }
                        KIND_MSG => {}
                        KIND_ERASE => erased_here.push(rec.seq),
                        KIND_PURGE => {
                            for seq in self.index.below(rec.seq) {
                                erased_here.push(seq);
                            }
                            self.index.skip_to(rec.seq);
                        }
                        KIND_SKIP => self.index.skip_to(rec.seq),
                        other => {
                            return Err(StoreError::Corrupt(format!(
                                "{}: unknown record kind {other}",
                                path.display()
                            )))
                        }
                    }
                    at += len;
                    // Apply erasures at once, so later records see them.
                    for seq in erased_here.drain(..) {
                        self.forget(seq, &mut live, first);
                    }
                }
                Ok(None) if at == data.len() => break,
                Ok(None) | Err(_) => {
                    tracing::warn!(
                        "JetStream: {}: dropping a torn or corrupt tail at byte {at} of {}",
                        path.display(),
                        data.len()
                    );
                    let f = OpenOptions::new().write(true).open(&path)?;
                    f.set_len(at as u64)?;
                    f.sync_all()?;
                    break;
                }
            }
        }
        let file = OpenOptions::new().read(true).append(true).open(&path)?;
        self.blocks.insert(
            first,
            Block {
                file,
                path,
                size: at as u64,
                live,
            },
        );
        Ok(())
    }

    /// Removes `seq` from the index and the live count of its block
    /// (`current` is the block being replayed, counted in `live`).
    fn forget(&mut self, seq: u64, live: &mut u64, current: u64) {
        if let Some(slot) = self.index.remove(seq) {
            if slot.location.block == current {
                *live -= 1;
            } else if let Some(b) = self.blocks.get_mut(&slot.location.block) {
                b.live -= 1;
            }
        }
    }

    /// The block taking writes, opening a new one when there is none or
    /// the last is full.
    fn write_block(&mut self, next_seq: u64) -> Result<&mut Block> {
        let full = self
            .blocks
            .last_key_value()
            .is_none_or(|(_, b)| b.size >= BLOCK_MAX);
        if full {
            // The closed block is synced with the next periodic sync.
            if let Some((_, old)) = self.blocks.last_key_value() {
                if let Ok(f) = old.file.try_clone() {
                    self.unsynced.push(f);
                }
            }
            let path = block_path(&self.dir, next_seq);
            let file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)?;
            self.blocks.insert(
                next_seq,
                Block {
                    file,
                    path,
                    size: 0,
                    live: 0,
                },
            );
        }
        Ok(self.blocks.values_mut().next_back().expect("a write block"))
    }

    /// Appends the record in `scratch` to the write block, after any
    /// held-back erase records, in one write.
    fn write_record(&mut self, next_seq: u64) -> Result<(u64, u64)> {
        let scratch = std::mem::take(&mut self.scratch);
        // The record goes after the held erase records, in their buffer.
        let mut out = std::mem::take(&mut self.held);
        let held = out.len();
        if held > 0 {
            out.extend_from_slice(&scratch);
        }
        let bytes = if held > 0 { &out[..] } else { &scratch[..] };
        let sync_always = self.sync_always;
        let block = self.write_block(next_seq)?;
        let offset = block.size + held as u64;
        let mut result = block.file.write_all(bytes);
        if result.is_ok() {
            block.size += bytes.len() as u64;
            if sync_always {
                result = block.file.sync_data();
            }
        }
        let first = *self.blocks.last_key_value().map(|(k, _)| k).unwrap_or(&next_seq);
        self.scratch = scratch;
        out.clear();
        self.held = out;
        result?;
        Ok((first, offset))
    }

    /// The bytes of one record. Reads go ahead by `READ_AHEAD` and keep what
    /// they read, so a consumer walking a block makes one read per chunk
    /// rather than one per message; records never change once written.
    fn read_record(&self, loc: Location, block: &Block) -> Result<Bytes> {
        let len = loc.len as u64;
        if loc.offset >= block.size {
            // Appended but still held, in memory.
            let at = (loc.offset - block.size) as usize;
            return match self.held.get(at..at + len as usize) {
                Some(bytes) => Ok(Bytes::copy_from_slice(bytes)),
                None => Err(StoreError::Corrupt(format!(
                    "{}: record at {} is neither written nor held",
                    block.path.display(),
                    loc.offset
                ))),
            };
        }
        let mut cache = self.cache.borrow_mut();
        if let Some(c) = cache.as_ref() {
            if c.block == loc.block
                && loc.offset >= c.start
                && loc.offset + len <= c.start + c.data.len() as u64
            {
                let at = (loc.offset - c.start) as usize;
                return Ok(c.data.slice(at..at + len as usize));
            }
        }
        let want = len
            .max(READ_AHEAD)
            .min(block.size.saturating_sub(loc.offset))
            .max(len);
        let mut buf = vec![0u8; want as usize];
        block.file.read_exact_at(&mut buf, loc.offset)?;
        let data = Bytes::from(buf);
        let record = data.slice(..len as usize);
        *cache = Some(ReadCache {
            block: loc.block,
            start: loc.offset,
            data,
        });
        Ok(record)
    }

    fn drop_empty_front(&mut self) {
        while self.blocks.len() > 1 {
            let Some((&first, block)) = self.blocks.first_key_value() else {
                break;
            };
            if block.live > 0 {
                break;
            }
            let path = block.path.clone();
            self.blocks.remove(&first);
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!("JetStream: could not remove {}: {e}", path.display());
            }
        }
    }

    fn erase(&mut self, seq: u64) -> bool {
        let Some(slot) = self.index.remove(seq) else {
            return false;
        };
        if let Some(b) = self.blocks.get_mut(&slot.location.block) {
            b.live -= 1;
        }
        true
    }
}

impl MsgStore for FileStore {
    fn append(&mut self, subject: &[u8], headers: &[u8], payload: &[u8], time: i64) -> Result<u64> {
        let seq = self.index.last_seq + 1;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        encode_after(&mut scratch, KIND_MSG, seq, time, subject, headers, payload);
        let len = scratch.len() as u32;
        self.scratch = scratch;
        let (block, offset) = self.write_record(seq)?;
        if let Some(b) = self.blocks.get_mut(&block) {
            b.live += 1;
        }
        let size = super::store::record_size(subject.len(), headers.len(), payload.len());
        self.index
            .insert(seq, subject, time, size, Location { block, offset, len });
        Ok(seq)
    }

    fn append_deferred(&mut self, subject: &[u8], headers: &[u8], payload: &[u8], time: i64) -> Result<u64> {
        if self.sync_always {
            return self.append(subject, headers, payload, time);
        }
        let seq = self.index.last_seq + 1;
        let record = record_len(subject, headers, payload) as u64;
        // Held bytes belong to the last block: a record that would take it
        // past its size goes after what is held is written, so the next
        // block opens before its offset is taken.
        let last_size = self.blocks.last_key_value().map_or(0, |(_, b)| b.size);
        if !self.held.is_empty() && last_size + (self.held.len() as u64) + record > BLOCK_MAX {
            self.flush_held()?;
        }
        let held = self.held.len() as u64;
        let block = self.write_block(seq)?;
        let offset = block.size + held;
        block.live += 1;
        let first = *self
            .blocks
            .last_key_value()
            .map(|(k, _)| k)
            .expect("a write block");
        let mut out = std::mem::take(&mut self.held);
        encode_after(&mut out, KIND_MSG, seq, time, subject, headers, payload);
        let len = out.len() as u64 - held;
        self.held = out;
        let size = super::store::record_size(subject.len(), headers.len(), payload.len());
        self.index.insert(
            seq,
            subject,
            time,
            size,
            Location {
                block: first,
                offset,
                len: len as u32,
            },
        );
        if self.held.len() >= HELD_MAX {
            self.flush_held()?;
        }
        Ok(seq)
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>> {
        let Some(slot) = self.index.slots.get(&seq) else {
            return Ok(None);
        };
        let loc = slot.location;
        let Some(block) = self.blocks.get(&loc.block) else {
            return Ok(None);
        };
        let buf = self.read_record(loc, block)?;
        match decode(&buf) {
            Ok(Some((rec, _))) if rec.seq == seq && rec.kind == KIND_MSG => {
                let (s, h) = (rec.subject.len(), rec.headers.len());
                Ok(Some(StoredMsg {
                    seq,
                    subject: buf.slice(HEADER..HEADER + s),
                    headers: buf.slice(HEADER + s..HEADER + s + h),
                    payload: buf.slice(HEADER + s + h..),
                    time: rec.time,
                }))
            }
            _ => Err(StoreError::Corrupt(format!(
                "{}: message {seq} does not read back",
                block.path.display()
            ))),
        }
    }

    fn remove(&mut self, seq: u64) -> Result<bool> {
        if !self.index.slots.contains_key(&seq) {
            return Ok(false);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        encode_marker(&mut scratch, KIND_ERASE, seq);
        self.scratch = scratch;
        self.write_record(self.index.last_seq + 1)?;
        self.erase(seq);
        self.drop_empty_front();
        Ok(true)
    }

    fn remove_settled(&mut self, seq: u64) -> Result<bool> {
        if !self.index.slots.contains_key(&seq) {
            return Ok(false);
        }
        if self.sync_always {
            return self.remove(seq);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        encode_marker(&mut scratch, KIND_ERASE, seq);
        self.held.extend_from_slice(&scratch);
        self.scratch = scratch;
        self.erase(seq);
        self.drop_empty_front();
        if self.held.len() >= HELD_MAX {
            self.flush_held()?;
        }
        Ok(true)
    }

    fn flush_held(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        let next = self.index.last_seq + 1;
        let block = self.write_block(next)?;
        let result = block.file.write_all(&held);
        if result.is_ok() {
            block.size += held.len() as u64;
        }
        result?;
        Ok(())
    }

    fn purge_below(&mut self, seq: u64) -> Result<u64> {
        let mut scratch = std::mem::take(&mut self.scratch);
        encode_marker(&mut scratch, KIND_PURGE, seq);
        self.scratch = scratch;
        self.write_record(self.index.last_seq + 1)?;
        let gone = self.index.below(seq);
        for s in &gone {
            self.erase(*s);
        }
        self.index.skip_to(seq);
        self.drop_empty_front();
        Ok(gone.len() as u64)
    }

    fn skip_to(&mut self, seq: u64) -> Result<()> {
        if seq <= self.index.last_seq + 1 {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        encode_marker(&mut scratch, KIND_SKIP, seq);
        self.scratch = scratch;
        self.write_record(self.index.last_seq + 1)?;
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
        self.flush_held()?;
        if let Some((_, b)) = self.blocks.last_key_value() {
            b.file.sync_data()?;
        }
        Ok(())
    }

    fn sync_handles(&mut self) -> Vec<File> {
        if let Err(e) = self.flush_held() {
            tracing::error!("JetStream: writing removals in {}: {e}", self.dir.display());
        }
        let mut files = std::mem::take(&mut self.unsynced);
        if let Some(f) = self
            .blocks
            .last_key_value()
            .and_then(|(_, b)| b.file.try_clone().ok())
        {
            files.push(f);
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(s: &mut FileStore, n: u64) {
        for i in 0..n {
            let subject = format!("s.{}", i % 3);
            s.append(subject.as_bytes(), b"", format!("msg {i}").as_bytes(), i as i64)
                .unwrap();
        }
    }

    #[test]
    fn messages_survive_reopening_with_erasures_and_purges() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            fill(&mut s, 10);
            assert!(s.remove(5).unwrap());
            assert_eq!(s.purge_below(3).unwrap(), 2);
        }
        let s = FileStore::open(dir.path(), 1).unwrap();
        let st = s.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
            (7, 3, 10, 1)
        );
        assert_eq!(&s.get(4).unwrap().unwrap().payload[..], b"msg 3");
        assert!(s.get(5).unwrap().is_none());
        assert!(s.get(2).unwrap().is_none());
        assert_eq!(s.get(10).unwrap().unwrap().subject, "s.0");
    }

    #[test]
    fn settled_removals_are_written_with_the_next_record_or_on_flush() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            fill(&mut s, 6);
            assert!(s.remove_settled(2).unwrap());
            assert!(s.get(2).unwrap().is_none());
            // Held back: lost if the process dies now.
        }
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            assert!(s.get(2).unwrap().is_some(), "not written yet");
            assert!(s.remove_settled(2).unwrap());
            assert!(s.remove_settled(3).unwrap());
            // Goes out in one write with the erase records before it, and
            // reads back at its own offset.
            let seq = s.append(b"s.new", b"", b"after", 99).unwrap();
            assert_eq!(&s.get(seq).unwrap().unwrap().payload[..], b"after");
            assert!(s.remove_settled(4).unwrap());
            s.flush_held().unwrap();
        }
        let s = FileStore::open(dir.path(), 1).unwrap();
        for gone in 2..=4 {
            assert!(s.get(gone).unwrap().is_none(), "{gone}");
        }
        assert_eq!(&s.get(7).unwrap().unwrap().payload[..], b"after");
        assert_eq!(s.state().msgs, 4);
    }

    #[test]
    fn deferred_appends_read_at_once_and_reach_the_disk_on_flush_or_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            fill(&mut s, 2);
            let a = s
                .append_deferred(b"d.a", b"NATS/1.0\r\n\r\n", b"first", 10)
                .unwrap();
            let b = s.append_deferred(b"d.b", b"", b"second", 11).unwrap();
            assert_eq!((a, b), (3, 4));
            // Read from memory before any write.
            let m = s.get(a).unwrap().unwrap();
            assert_eq!((&m.subject[..], &m.payload[..]), (&b"d.a"[..], &b"first"[..]));
            assert_eq!(&s.get(b).unwrap().unwrap().payload[..], b"second");
            // Not written: lost if the process dies now (never acknowledged).
        }
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            assert_eq!(s.state().last_seq, 2, "deferred appends were not written");
            s.append_deferred(b"d.a", b"", b"third", 12).unwrap();
            assert!(s.remove_settled(1).unwrap());
            s.flush_held().unwrap();
            s.append_deferred(b"d.b", b"", b"fourth", 13).unwrap();
            // A plain append writes what is held before it.
            s.append(b"d.c", b"", b"fifth", 14).unwrap();
        }
        let s = FileStore::open(dir.path(), 1).unwrap();
        assert!(s.get(1).unwrap().is_none());
        let payloads: Vec<_> = (2..=5).map(|q| s.get(q).unwrap().unwrap().payload).collect();
        assert_eq!(payloads, [&b"msg 1"[..], b"third", b"fourth", b"fifth"]);
    }

    #[test]
    fn deferred_appends_across_a_block_boundary_read_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        // Small enough that several wait in memory (under HELD_MAX) as a
        // block fills up.
        let body = vec![7u8; 20 * 1024 + 7];
        let n = (2 * BLOCK_MAX / body.len() as u64) + 3;
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            for i in 1..=n {
                let seq = s.append_deferred(b"big", b"", &body, i as i64).unwrap();
                assert_eq!(seq, i);
                assert_eq!(s.get(i).unwrap().unwrap().payload.len(), body.len());
                if i % 5 == 0 {
                    s.flush_held().unwrap();
                }
            }
            s.flush_held().unwrap();
            assert!(s.blocks.len() >= 3, "{} blocks", s.blocks.len());
            for b in s.blocks.values() {
                assert!(b.size <= BLOCK_MAX + body.len() as u64 + HEADER as u64 + 16);
            }
        }
        let s = FileStore::open(dir.path(), 1).unwrap();
        assert_eq!(s.state().msgs, n);
        for i in 1..=n {
            let m = s.get(i).unwrap().unwrap();
            assert_eq!((m.time, m.payload.len()), (i as i64, body.len()));
        }
    }

    #[test]
    fn purging_everything_keeps_the_sequence_going_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            fill(&mut s, 4);
            s.purge_below(5).unwrap();
        }
        let mut s = FileStore::open(dir.path(), 1).unwrap();
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 5, 4));
        assert_eq!(s.append(b"x", b"", b"y", 1).unwrap(), 5);
    }

    #[test]
    fn a_torn_tail_is_dropped_and_writing_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            fill(&mut s, 3);
        }
        let block = block_path(dir.path(), 1);
        let full = fs::metadata(&block).unwrap().len();
        // Cut the last record in half, as a crash mid-write would.
        OpenOptions::new()
            .write(true)
            .open(&block)
            .unwrap()
            .set_len(full - 5)
            .unwrap();
        let mut s = FileStore::open(dir.path(), 1).unwrap();
        assert_eq!(s.state().last_seq, 2);
        assert_eq!(s.append(b"x", b"", b"after", 9).unwrap(), 3);
        drop(s);
        let s = FileStore::open(dir.path(), 1).unwrap();
        assert_eq!(&s.get(3).unwrap().unwrap().payload[..], b"after");
    }

    #[test]
    fn a_corrupt_record_is_never_served() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = FileStore::open(dir.path(), 1).unwrap();
            fill(&mut s, 3);
        }
        let block = block_path(dir.path(), 1);
        let mut data = fs::read(&block).unwrap();
        let n = data.len();
        data[n - 2] ^= 0xff; // a flipped bit in the last payload
        fs::write(&block, &data).unwrap();
        let s = FileStore::open(dir.path(), 1).unwrap();
        assert_eq!(s.state().msgs, 2);
        assert!(s.get(3).unwrap().is_none());
    }

    #[test]
    fn reads_ahead_across_chunks_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path(), 1).unwrap();
        for i in 0..2000u32 {
            s.append(b"r", b"", format!("{i:0>300}").as_bytes(), 0).unwrap();
        }
        for i in 0..2000u64 {
            let m = s.get(i + 1).unwrap().unwrap();
            assert_eq!(m.payload, format!("{i:0>300}").as_bytes());
            if i % 500 == 0 {
                // Written after the chunk now cached was read.
                let seq = s.append(b"r", b"", b"late", 0).unwrap();
                assert_eq!(&s.get(seq).unwrap().unwrap().payload[..], b"late");
            }
        }
    }

    #[test]
    fn sync_always_and_periodic_sync_handles() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path(), 1).unwrap();
        s.sync_always(true);
        fill(&mut s, 3);
        assert_eq!(s.sync_handles().len(), 1);
        let big = vec![b'x'; 1024 * 1024];
        for _ in 0..10 {
            s.append(b"big", b"", &big, 0).unwrap();
        }
        // The closed block and the current one.
        assert_eq!(s.sync_handles().len(), 2);
        assert_eq!(s.sync_handles().len(), 1);
    }

    #[test]
    fn old_blocks_are_deleted_once_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path(), 1).unwrap();
        let big = vec![b'x'; 1024 * 1024];
        for _ in 0..20 {
            s.append(b"big", b"", &big, 0).unwrap();
        }
        let blocks = || fs::read_dir(dir.path()).unwrap().count();
        assert!(blocks() >= 3, "{} blocks", blocks());
        s.purge_below(19).unwrap();
        assert_eq!(blocks(), 1);
        drop(s);
        let s = FileStore::open(dir.path(), 1).unwrap();
        assert_eq!((s.state().first_seq, s.state().msgs), (19, 2));
    }
}
