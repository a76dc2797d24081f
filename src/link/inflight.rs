//! The QoS 1/2 messages one link connection has sent and not yet had acknowledged,
//! with packet-id allocation that stays O(1) for windows in the thousands (a bitmap of
//! ids in use instead of a scan).
//!
//! Link shard only, one per pool connection.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::message::Message;

/// One unacknowledged message.
#[derive(Debug)]
pub struct Entry {
    pub packet_id: u16,
    pub msg: Arc<Message>,
    /// QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP.
    pub released: bool,
    /// A route operation (not resent after a reconnect: a new snapshot replaces it).
    pub route_op: bool,
}

/// What an acknowledgement did.
#[derive(Debug, PartialEq, Eq)]
pub enum Acked {
    /// The message is done.
    Done { route_op: bool },
    /// QoS 2 half-way: send PUBREL.
    Release,
    /// Not a packet id we are waiting for (in this state).
    Unknown,
}

#[derive(Debug)]
pub struct Inflight {
    entries: VecDeque<Entry>,
    used: Vec<u64>,
    next: u16,
    /// Entries that are route operations (not counted as forwarded messages).
    route_ops: usize,
}

impl Default for Inflight {
    fn default() -> Self {
        Inflight {
            entries: VecDeque::new(),
            used: vec![0; 1024],
            next: 1,
            route_ops: 0,
        }
    }
}

impl Inflight {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Unacknowledged forwarded messages (route operations excluded).
    pub fn messages(&self) -> usize {
        self.entries.len() - self.route_ops
    }

    fn is_used(&self, id: u16) -> bool {
        self.used[usize::from(id) / 64] & (1 << (id % 64)) != 0
    }

    fn mark(&mut self, id: u16, used: bool) {
        let word = &mut self.used[usize::from(id) / 64];
        if used {
            *word |= 1 << (id % 64);
        } else {
            *word &= !(1 << (id % 64));
        }
    }

    /// Records a message about to be sent and returns its packet id. The caller keeps
    /// fewer than 65535 messages inflight.
    pub fn push(&mut self, msg: Arc<Message>, route_op: bool) -> u16 {
        let id = loop {
            let id = self.next;
            self.next = if self.next == u16::MAX {
                1
            } else {
                self.next + 1
            };
            if !self.is_used(id) {
                break id;
            }
        };
        self.mark(id, true);
        self.route_ops += usize::from(route_op);
        self.entries.push_back(Entry {
            packet_id: id,
            msg,
            released: false,
            route_op,
        });
        id
    }

    fn position(&self, id: u16) -> Option<usize> {
        // Acks nearly always come in order: usually the front.
        self.entries.iter().position(|e| e.packet_id == id)
    }

    fn remove_at(&mut self, pos: usize) -> Option<Entry> {
        let entry = self.entries.remove(pos)?;
        self.mark(entry.packet_id, false);
        self.route_ops -= usize::from(entry.route_op);
        Some(entry)
    }

    /// PUBACK (QoS 1).
    pub fn on_puback(&mut self, id: u16) -> Acked {
        match self.position(id) {
            Some(pos) if self.entries[pos].msg.qos == crate::protocol::QoS::AtLeastOnce => {
                let route_op = self.entries[pos].route_op;
                self.remove_at(pos);
                Acked::Done { route_op }
            }
            _ => Acked::Unknown,
        }
    }

    /// PUBREC (QoS 2): the remote has it; release it.
    pub fn on_pubrec(&mut self, id: u16, refused: bool) -> Acked {
        match self.position(id) {
            Some(pos) if refused => {
                let route_op = self.entries[pos].route_op;
                self.remove_at(pos);
                Acked::Done { route_op }
            }
            Some(pos) => {
                self.entries[pos].released = true;
                Acked::Release
            }
            None => Acked::Unknown,
        }
    }

    /// PUBCOMP (QoS 2).
    pub fn on_pubcomp(&mut self, id: u16) -> Acked {
        match self.position(id) {
            Some(pos) if self.entries[pos].released => {
                let route_op = self.entries[pos].route_op;
                self.remove_at(pos);
                Acked::Done { route_op }
            }
            _ => Acked::Unknown,
        }
    }

    /// Empties the window after a connection loss, oldest first: the messages to send
    /// again on the next connection.
    pub fn drain(&mut self) -> Vec<Entry> {
        let entries: Vec<Entry> = self.entries.drain(..).collect();
        self.used.iter_mut().for_each(|w| *w = 0);
        self.route_ops = 0;
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Origin;
    use crate::protocol::{Bytes, MqttStr, Properties, QoS};

    fn msg(qos: QoS) -> Arc<Message> {
        Arc::new(Message {
            topic: MqttStr::from("t"),
            payload: Bytes::new(),
            qos,
            retain: false,
            properties: Properties::default(),
            expires_at: None,
            publisher: MqttStr::from("p"),
            origin: Origin::Client,
        })
    }

    #[test]
    fn does_a_qos2_message_need_pubrec_then_pubcomp() {
        let mut w = Inflight::default();
        let id = w.push(msg(QoS::ExactlyOnce), false);
        assert_eq!(w.on_pubcomp(id), Acked::Unknown);
        assert_eq!(w.on_pubrec(id, false), Acked::Release);
        assert_eq!(w.on_pubcomp(id), Acked::Done { route_op: false });
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn are_ids_in_use_skipped_after_wrapping() {
        let mut w = Inflight::default();
        let first = w.push(msg(QoS::AtLeastOnce), false);
        for _ in 0..70_000u32 {
            let id = w.push(msg(QoS::AtLeastOnce), false);
            assert_ne!(id, first);
            assert_eq!(w.on_puback(id), Acked::Done { route_op: false });
        }
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn does_drain_return_messages_oldest_first() {
        let mut w = Inflight::default();
        let a = msg(QoS::AtLeastOnce);
        let b = msg(QoS::AtLeastOnce);
        w.push(a.clone(), false);
        w.push(b.clone(), true);
        let drained = w.drain();
        assert!(Arc::ptr_eq(&drained[0].msg, &a));
        assert!(drained[1].route_op);
        assert_eq!(w.len(), 0);
    }
}
