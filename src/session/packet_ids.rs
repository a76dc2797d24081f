//! Packet identifier allocation for server→client QoS 1/2 messages.
//!
//! Identifiers are handed out in increasing order, wrapping after 65535 and never 0
//! [MQTT-2.2.1-3]; one still in use by an inflight message is skipped [MQTT-2.2.1-4].

/// The next-identifier cursor of one session.
#[derive(Debug, Clone)]
pub struct PacketIds {
    next: u16,
}

impl Default for PacketIds {
    fn default() -> Self {
        PacketIds { next: 1 }
    }
}

impl PacketIds {
    /// Returns a free identifier; `in_use` says whether one is taken. The caller
    /// keeps fewer than 65535 identifiers in use, so this always terminates.
    pub fn allocate(&mut self, in_use: impl Fn(u16) -> bool) -> u16 {
        loop {
            let id = self.next;
            self.next = if self.next == u16::MAX {
                1
            } else {
                self.next + 1
            };
            if !in_use(id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_wrap_around_and_never_use_zero() {
        let mut ids = PacketIds { next: u16::MAX };
        assert_eq!(ids.allocate(|_| false), u16::MAX);
        assert_eq!(ids.allocate(|_| false), 1);
    }

    #[test]
    fn an_id_in_use_is_skipped() {
        let mut ids = PacketIds::default();
        assert_eq!(ids.allocate(|id| id == 1 || id == 2), 3);
    }
}
