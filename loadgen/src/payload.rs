//! The benchmark payload: a 16-byte header (send time, publisher id, sequence
//! number, all big-endian) followed by padding up to the requested size.
//! Subscribers read the header back to measure latency, loss, duplicates and
//! reordering per publisher.

use crate::clock::now_ns;

/// Size of the header, and so the smallest payload a benchmark sends.
pub const HEADER_LEN: usize = 16;

/// What a benchmark payload says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `CLOCK_MONOTONIC` nanoseconds when the message was written.
    pub sent_ns: u64,
    /// The publisher, unique within one run.
    pub publisher: u32,
    /// Per-publisher sequence number, from 0.
    pub seq: u32,
}

impl Header {
    /// Writes the header into the first [`HEADER_LEN`] bytes of `payload`;
    /// returns false (writing nothing) if `payload` is shorter than that.
    pub fn write(&self, payload: &mut [u8]) -> bool {
        let Some(dst) = payload.get_mut(..HEADER_LEN) else {
            return false;
        };
        dst[..8].copy_from_slice(&self.sent_ns.to_be_bytes());
        dst[8..12].copy_from_slice(&self.publisher.to_be_bytes());
        dst[12..16].copy_from_slice(&self.seq.to_be_bytes());
        true
    }

    /// Reads a header from the front of `payload`; `None` if it is too short.
    pub fn read(payload: &[u8]) -> Option<Header> {
        let src = payload.get(..HEADER_LEN)?;
        Some(Header {
            sent_ns: u64::from_be_bytes(src[0..8].try_into().ok()?),
            publisher: u32::from_be_bytes(src[8..12].try_into().ok()?),
            seq: u32::from_be_bytes(src[12..16].try_into().ok()?),
        })
    }

    /// Like [`Header::read`] but only for a header this tool plausibly wrote on
    /// this host: sent in the past hour and not in the future. Used where the
    /// payload might come from somebody else (`sub`).
    pub fn read_plausible(payload: &[u8], now_ns: u64) -> Option<Header> {
        const HOUR_NS: u64 = 3_600_000_000_000;
        Header::read(payload).filter(|h| h.sent_ns <= now_ns && now_ns - h.sent_ns < HOUR_NS)
    }

    /// Microseconds from the send time to `now_ns` (0 if the clock says earlier).
    pub fn latency_us(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.sent_ns) / 1_000
    }
}

/// A payload of `size` bytes (at least [`HEADER_LEN`]) whose padding is a
/// repeating readable pattern; the header part is zero until stamped.
pub fn template(size: usize) -> Vec<u8> {
    let size = size.max(HEADER_LEN);
    (0..size)
        .map(|i| {
            if i < HEADER_LEN {
                0
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect()
}

/// Stamps `payload` for `publisher`'s message `seq` with the current time.
pub fn stamp(payload: &mut [u8], publisher: u32, seq: u32) -> bool {
    Header {
        sent_ns: now_ns(),
        publisher,
        seq,
    }
    .write(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_a_written_header_read_back_unchanged() {
        let h = Header {
            sent_ns: 0x0102_0304_0506_0708,
            publisher: 7,
            seq: 0xFFFF_FFFE,
        };
        let mut buf = template(64);
        assert!(h.write(&mut buf));
        assert_eq!(Header::read(&buf), Some(h));
        assert_eq!(&buf[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&buf[8..12], &[0, 0, 0, 7]);
    }

    #[test]
    fn is_a_payload_shorter_than_the_header_refused() {
        let mut short = [0u8; 15];
        let h = Header {
            sent_ns: 1,
            publisher: 1,
            seq: 1,
        };
        assert!(!h.write(&mut short));
        assert_eq!(Header::read(&short), None);
    }

    #[test]
    fn is_the_template_padded_to_size_and_at_least_a_header() {
        assert_eq!(template(64).len(), 64);
        assert_eq!(template(3).len(), HEADER_LEN);
        assert_eq!(template(20)[16..], *b"qrst");
    }

    #[test]
    fn is_a_header_from_the_future_or_long_ago_implausible() {
        let now = 10_000_000_000_000;
        let mut buf = template(16);
        let fresh = Header {
            sent_ns: now - 1_000,
            publisher: 0,
            seq: 0,
        };
        fresh.write(&mut buf);
        assert_eq!(Header::read_plausible(&buf, now), Some(fresh));
        assert_eq!(fresh.latency_us(now), 1);
        Header {
            sent_ns: now + 1,
            ..fresh
        }
        .write(&mut buf);
        assert_eq!(Header::read_plausible(&buf, now), None);
        Header {
            sent_ns: 1,
            ..fresh
        }
        .write(&mut buf);
        assert_eq!(Header::read_plausible(&buf, now), None);
    }

    #[test]
    fn does_stamp_write_the_current_time() {
        let mut buf = template(32);
        let before = now_ns();
        assert!(stamp(&mut buf, 3, 9));
        let h = Header::read(&buf).expect("header");
        assert!(h.sent_ns >= before && h.sent_ns <= now_ns());
        assert_eq!((h.publisher, h.seq), (3, 9));
    }
}
