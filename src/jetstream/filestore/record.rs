//! One record of a block file, encoded and decoded: its layout is in the
//! module's documentation above.

/// Bytes before the subject: length, CRC, kind, seq, time, two lengths.
pub(super) const HEADER: usize = 4 + 4 + 1 + 8 + 8 + 2 + 4;
/// Bigger records are refused as corrupt (max_payload is at most 64 MiB).
pub(super) const RECORD_MAX: usize = 128 * 1024 * 1024;

pub(super) const KIND_MSG: u8 = 0;
pub(super) const KIND_ERASE: u8 = 1;
pub(super) const KIND_PURGE: u8 = 2;
pub(super) const KIND_SKIP: u8 = 3;

/// A record that marks an erased, purged or skipped sequence: its kind and sequence, nothing else.
pub(super) fn encode_marker(out: &mut Vec<u8>, kind: u8, seq: u64) {
    out.clear();
    encode_after(out, kind, seq, 0, b"", b"", b"");
}

/// The length of a record with these parts.
pub(super) fn record_len(subject: &[u8], headers: &[u8], payload: &[u8]) -> usize {
    HEADER + subject.len() + headers.len() + payload.len()
}

/// Appends one record after what `out` holds already.
pub(super) fn encode_after(
    out: &mut Vec<u8>,
    kind: u8,
    seq: u64,
    time: i64,
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
) {
    let start = out.len();
    let rest = HEADER - 8 + subject.len() + headers.len() + payload.len();
    out.extend_from_slice(&(rest as u32 + 4).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    out.extend_from_slice(subject);
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// One decoded record, borrowing its bytes.
pub(super) struct Record<'a> {
    pub kind: u8,
    pub seq: u64,
    pub time: i64,
    pub subject: &'a [u8],
    pub headers: &'a [u8],
    pub payload: &'a [u8],
}

/// Decodes the record at the start of `buf`: `Ok(None)` when `buf` ends
/// before it does, `Err` when it fails its checks. Returns its length too.
pub(super) fn decode(buf: &[u8]) -> std::result::Result<Option<(Record<'_>, usize)>, String> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().unwrap_or_default()) as usize;
    if !(HEADER - 4..=RECORD_MAX).contains(&len) {
        return Err(format!("bad record length {len}"));
    }
    let total = 4 + len;
    if buf.len() < total {
        return Ok(None);
    }
    let rec = &buf[..total];
    let crc = u32::from_le_bytes(rec[4..8].try_into().unwrap_or_default());
    if crc32fast::hash(&rec[8..]) != crc {
        return Err("checksum mismatch".into());
    }
    let kind = rec[8];
    let seq = u64::from_le_bytes(rec[9..17].try_into().unwrap_or_default());
    let time = i64::from_le_bytes(rec[17..25].try_into().unwrap_or_default());
    let slen = u16::from_le_bytes(rec[25..27].try_into().unwrap_or_default()) as usize;
    let hlen = u32::from_le_bytes(rec[27..31].try_into().unwrap_or_default()) as usize;
    if HEADER + slen + hlen > total {
        return Err("lengths past the record".into());
    }
    let subject = &rec[HEADER..HEADER + slen];
    let headers = &rec[HEADER + slen..HEADER + slen + hlen];
    let payload = &rec[HEADER + slen + hlen..];
    Ok(Some((
        Record {
            kind,
            seq,
            time,
            subject,
            headers,
            payload,
        },
        total,
    )))
}
