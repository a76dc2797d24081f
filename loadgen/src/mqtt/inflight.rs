//! The QoS 1/2 inflight window of one publisher: packet identifier allocation
//! (1..=65535, never one still in use [MQTT-2.2.1-3]) and the PUBRELs owed
//! after PUBREC.

use std::collections::HashSet;

/// Unacknowledged publishes of one publisher.
#[derive(Debug)]
pub struct Inflight {
    max: usize,
    next_id: u16,
    in_use: HashSet<u16>,
    /// PUBREC received, PUBREL not yet written.
    pub pending_rel: Vec<u16>,
}

impl Inflight {
    /// A window of at most `max` (1..=65535) unacknowledged publishes.
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, usize::from(u16::MAX));
        Inflight {
            max,
            next_id: 1,
            in_use: HashSet::with_capacity(max),
            pending_rel: Vec::new(),
        }
    }

    /// Publishes that may still be sent before the window is full.
    pub fn free(&self) -> usize {
        self.max - self.in_use.len()
    }

    /// Publishes awaiting their acknowledgement.
    pub fn len(&self) -> usize {
        self.in_use.len()
    }

    /// True when nothing awaits an acknowledgement.
    pub fn is_empty(&self) -> bool {
        self.in_use.is_empty()
    }

    /// A packet identifier not in use, or `None` when the window is full.
    pub fn allocate(&mut self) -> Option<u16> {
        if self.free() == 0 {
            return None;
        }
        loop {
            let id = self.next_id;
            self.next_id = if id == u16::MAX { 1 } else { id + 1 };
            if self.in_use.insert(id) {
                return Some(id);
            }
        }
    }

    /// Ends the flow of `id`; false if it was not in use (a stray ack).
    pub fn release(&mut self, id: u16) -> bool {
        self.in_use.remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn are_packet_ids_non_zero_and_unique_while_in_use() {
        // [MQTT-2.2.1-3]: a new QoS > 0 PUBLISH uses an identifier not in use.
        let mut w = Inflight::new(3);
        let ids: Vec<u16> = (0..3).filter_map(|_| w.allocate()).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(w.allocate(), None);
        assert!(w.release(2));
        assert!(!w.release(2));
        assert_eq!(w.allocate(), Some(4));
    }

    #[test]
    fn do_ids_wrap_past_65535_and_skip_those_in_use() {
        let mut w = Inflight::new(10);
        w.next_id = u16::MAX;
        assert_eq!(w.allocate(), Some(u16::MAX));
        assert_eq!(w.allocate(), Some(1));
        w.next_id = u16::MAX;
        assert!(w.release(1));
        // 65535 is still in use: skipped.
        assert_eq!(w.allocate(), Some(1));
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn is_the_window_clamped_to_the_id_space() {
        assert_eq!(Inflight::new(0).free(), 1);
        assert_eq!(Inflight::new(1 << 20).free(), 65535);
    }
}
