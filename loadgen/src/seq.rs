//! Per-stream sequence tracking: for the messages of one publisher as seen by
//! one receiver, tells in-order arrivals from late ones (reordered), repeats
//! (duplicates) and gaps (lost, once the run is over).

/// How many sequence numbers behind the newest one a tracker remembers
/// exactly. An arrival older than that cannot be checked for repetition and is
/// counted as reordered.
pub const WINDOW: u32 = 4096;
const WORDS: usize = (WINDOW / 64) as usize;

/// The verdict on one arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next expected number, or a later one (earlier ones now missing).
    InOrder,
    /// An earlier number that had not been seen: it overtook nothing, it was
    /// overtaken.
    Late,
    /// A number already seen.
    Duplicate,
}

/// Counts of one stream (or a sum of streams).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqCounts {
    /// Distinct sequence numbers received.
    pub unique: u64,
    /// Arrivals of a number already received.
    pub duplicates: u64,
    /// Arrivals of a number lower than one already received.
    pub reordered: u64,
    /// Numbers below the highest received that never arrived.
    pub gaps: u64,
}

impl SeqCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &SeqCounts) {
        self.unique += other.unique;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.gaps += other.gaps;
    }
}

/// The tracker of one (receiver, publisher) stream.
#[derive(Clone, Debug)]
pub struct SeqTracker {
    /// One more than the highest number received; 0 before any arrival.
    next: u64,
    /// Bit `s % WINDOW` is set when number `s` in `[next - WINDOW, next)` was seen.
    seen: [u64; WORDS],
    counts: SeqCounts,
}

impl Default for SeqTracker {
    fn default() -> Self {
        SeqTracker {
            next: 0,
            seen: [0; WORDS],
            counts: SeqCounts::default(),
        }
    }
}

impl SeqTracker {
    fn slot(seq: u64) -> (usize, u64) {
        let bit = (seq % u64::from(WINDOW)) as usize;
        (bit / 64, 1u64 << (bit % 64))
    }

    fn set(&mut self, seq: u64, on: bool) {
        let (word, mask) = Self::slot(seq);
        if on {
            self.seen[word] |= mask;
        } else {
            self.seen[word] &= !mask;
        }
    }

    fn is_set(&self, seq: u64) -> bool {
        let (word, mask) = Self::slot(seq);
        self.seen[word] & mask != 0
    }

    /// Records the arrival of number `seq` and says what it was.
    pub fn record(&mut self, seq: u32) -> Arrival {
        let seq = u64::from(seq);
        if seq >= self.next {
            if seq - self.next >= u64::from(WINDOW) {
                self.seen = [0; WORDS];
            } else {
                for s in self.next..seq {
                    self.set(s, false);
                }
            }
            self.set(seq, true);
            self.next = seq + 1;
            self.counts.unique += 1;
            return Arrival::InOrder;
        }
        if self.next - seq > u64::from(WINDOW) {
            self.counts.unique += 1;
            self.counts.reordered += 1;
            return Arrival::Late;
        }
        if self.is_set(seq) {
            self.counts.duplicates += 1;
            return Arrival::Duplicate;
        }
        self.set(seq, true);
        self.counts.unique += 1;
        self.counts.reordered += 1;
        Arrival::Late
    }

    /// The counts so far; `gaps` is what is missing below the highest number.
    pub fn counts(&self) -> SeqCounts {
        SeqCounts {
            gaps: self.next.saturating_sub(self.counts.unique),
            ..self.counts
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: &[u32]) -> (Vec<Arrival>, SeqCounts) {
        let mut t = SeqTracker::default();
        let verdicts = seqs.iter().map(|&s| t.record(s)).collect();
        (verdicts, t.counts())
    }

    #[test]
    fn is_an_in_order_stream_clean() {
        let (v, c) = run(&[0, 1, 2, 3]);
        assert!(v.iter().all(|a| *a == Arrival::InOrder));
        assert_eq!(
            c,
            SeqCounts {
                unique: 4,
                duplicates: 0,
                reordered: 0,
                gaps: 0
            }
        );
    }

    #[test]
    fn is_a_repeated_number_a_duplicate_not_a_reorder() {
        let (v, c) = run(&[0, 1, 1, 2, 0]);
        assert_eq!(v[2], Arrival::Duplicate);
        assert_eq!(v[4], Arrival::Duplicate);
        assert_eq!((c.unique, c.duplicates, c.reordered, c.gaps), (3, 2, 0, 0));
    }

    #[test]
    fn is_a_late_arrival_reordered_and_fills_its_gap() {
        let (v, c) = run(&[0, 2, 1, 3]);
        assert_eq!(
            v,
            vec![
                Arrival::InOrder,
                Arrival::InOrder,
                Arrival::Late,
                Arrival::InOrder
            ]
        );
        assert_eq!((c.unique, c.duplicates, c.reordered, c.gaps), (4, 0, 1, 0));
    }

    #[test]
    fn is_a_late_arrival_seen_twice_a_duplicate_the_second_time() {
        let (v, c) = run(&[0, 2, 1, 1]);
        assert_eq!(v[3], Arrival::Duplicate);
        assert_eq!((c.unique, c.duplicates, c.reordered), (3, 1, 1));
    }

    #[test]
    fn is_a_missing_number_counted_as_a_gap() {
        let (_, c) = run(&[0, 1, 4, 5]);
        assert_eq!((c.unique, c.gaps), (4, 2));
    }

    #[test]
    fn does_a_jump_beyond_the_window_forget_old_numbers() {
        let far = WINDOW * 3;
        let (v, c) = run(&[0, far, far, 1, 0]);
        assert_eq!(v[2], Arrival::Duplicate);
        // 1 and 0 are older than the window: counted as late, not checked.
        assert_eq!(v[3], Arrival::Late);
        assert_eq!(c.duplicates, 1);
        assert_eq!(c.reordered, 2);
    }

    #[test]
    fn are_slots_reused_cleanly_when_the_window_slides() {
        let mut t = SeqTracker::default();
        for s in 0..(WINDOW * 2 + 10) {
            assert_eq!(t.record(s), Arrival::InOrder);
        }
        // A number within the window, seen: duplicate.
        assert_eq!(t.record(WINDOW * 2), Arrival::Duplicate);
        assert_eq!(t.counts().gaps, 0);
    }

    #[test]
    fn do_counts_add_up() {
        let mut a = SeqCounts {
            unique: 1,
            duplicates: 2,
            reordered: 3,
            gaps: 4,
        };
        a.add(&a.clone());
        assert_eq!((a.unique, a.duplicates, a.reordered, a.gaps), (2, 4, 6, 8));
    }
}
