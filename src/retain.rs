//! Retained messages: topic → the last retained message published to it.
//!
//! Every core keeps a full replica (retained sets and deletes are broadcast), so a
//! subscribe is answered from local memory without asking other cores. The store is a
//! tree of topic levels, walked with the subscription's filter.

use std::sync::Arc;

use ahash::AHashMap;

use crate::message::Message;

#[derive(Debug, Default)]
struct Node {
    msg: Option<Arc<Message>>,
    children: AHashMap<Box<str>, Node>,
}

/// Retained messages of the whole cluster node (a replica, one per core).
#[derive(Debug, Default)]
pub struct RetainStore {
    root: Node,
    count: usize,
}

/// What `RetainStore::set` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainOutcome {
    Stored,
    Replaced,
    Deleted,
    /// The store holds `limit` topics already: a new topic is not stored.
    LimitReached,
    /// An empty payload for a topic with nothing retained.
    Nothing,
}

impl RetainStore {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Stores `msg` as the retained message of its topic; an empty payload deletes
    /// it [MQTT-3.3.1-6/7]. A new topic beyond `limit` retained topics is refused.
    pub fn set(&mut self, msg: Arc<Message>, limit: usize) -> RetainOutcome {
        let topic = msg.topic.as_str().to_owned();
        if msg.payload.is_empty() {
            return if self.remove(&topic) {
                RetainOutcome::Deleted
            } else {
                RetainOutcome::Nothing
            };
        }
        let exists = self.find(&topic).is_some_and(|n| n.msg.is_some());
        if !exists && self.count >= limit {
            return RetainOutcome::LimitReached;
        }
        let mut node = &mut self.root;
        for level in topic.split('/') {
            node = node.children.entry(Box::from(level)).or_default();
        }
        if node.msg.replace(msg).is_some() {
            RetainOutcome::Replaced
        } else {
            self.count += 1;
            RetainOutcome::Stored
        }
    }

    fn find(&self, topic: &str) -> Option<&Node> {
        let mut node = &self.root;
        for level in topic.split('/') {
            node = node.children.get(level)?;
        }
        Some(node)
    }

    fn remove(&mut self, topic: &str) -> bool {
        let levels: Vec<&str> = topic.split('/').collect();
        let removed = remove_at(&mut self.root, &levels);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Calls `visit` for every retained message whose topic matches `filter`
    /// (with the same rules as subscriptions, including [MQTT-4.7.2-1] for `$` topics).
    pub fn for_each_match(&self, filter: &str, mut visit: impl FnMut(&Arc<Message>)) {
        let levels: Vec<&str> = filter.split('/').collect();
        walk(&self.root, &levels, true, &mut visit);
    }
}

/// Removes the message at `levels` and prunes nodes left empty.
fn remove_at(node: &mut Node, levels: &[&str]) -> bool {
    let Some((first, rest)) = levels.split_first() else {
        return node.msg.take().is_some();
    };
    let Some(child) = node.children.get_mut(*first) else {
        return false;
    };
    let removed = remove_at(child, rest);
    if child.msg.is_none() && child.children.is_empty() {
        node.children.remove(*first);
    }
    removed
}

fn walk(node: &Node, levels: &[&str], at_root: bool, visit: &mut impl FnMut(&Arc<Message>)) {
    let Some((first, rest)) = levels.split_first() else {
        if let Some(msg) = &node.msg {
            visit(msg);
        }
        return;
    };
    match *first {
        "#" => {
            // '#' matches the parent level too ("a/#" matches "a") [MQTT-4.7.1-2].
            if !at_root {
                if let Some(msg) = &node.msg {
                    visit(msg);
                }
            }
            for (name, child) in &node.children {
                if at_root && name.starts_with('$') {
                    continue;
                }
                visit_all(child, visit);
            }
        }
        "+" => {
            for (name, child) in &node.children {
                if at_root && name.starts_with('$') {
                    continue;
                }
                walk(child, rest, false, visit);
            }
        }
        level => {
            if let Some(child) = node.children.get(level) {
                walk(child, rest, false, visit);
            }
        }
    }
}

fn visit_all(node: &Node, visit: &mut impl FnMut(&Arc<Message>)) {
    if let Some(msg) = &node.msg {
        visit(msg);
    }
    for child in node.children.values() {
        visit_all(child, visit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Origin;
    use crate::protocol::{Bytes, MqttStr, Properties, QoS};
    use crate::router::topic_matches;

    fn msg(topic: &str, payload: &'static [u8]) -> Arc<Message> {
        Arc::new(Message {
            topic: MqttStr::from(topic),
            payload: Bytes::from_static(payload),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Properties::default(),
            expires_at: None,
            publisher: MqttStr::from("p"),
            origin: Origin::Client,
        })
    }

    fn matching(store: &RetainStore, filter: &str) -> Vec<String> {
        let mut v = Vec::new();
        store.for_each_match(filter, |m| v.push(m.topic.as_str().to_owned()));
        v.sort();
        v
    }

    #[test]
    fn does_an_empty_payload_delete_the_retained_message() {
        // [MQTT-3.3.1-10]
        let mut s = RetainStore::default();
        assert_eq!(s.set(msg("a/b", b"1"), 10), RetainOutcome::Stored);
        assert_eq!(s.set(msg("a/b", b"2"), 10), RetainOutcome::Replaced);
        assert_eq!(s.set(msg("a/b", b""), 10), RetainOutcome::Deleted);
        assert!(s.is_empty());
        assert!(s.root.children.is_empty(), "empty nodes are pruned");
    }

    #[test]
    fn is_a_new_topic_refused_at_the_limit_but_a_replacement_accepted() {
        let mut s = RetainStore::default();
        assert_eq!(s.set(msg("a", b"1"), 1), RetainOutcome::Stored);
        assert_eq!(s.set(msg("b", b"1"), 1), RetainOutcome::LimitReached);
        assert_eq!(s.set(msg("a", b"2"), 1), RetainOutcome::Replaced);
    }

    #[test]
    fn does_the_store_agree_with_the_reference_matcher() {
        let topics = ["a", "a/b", "a/b/c", "a//c", "/a", "$SYS/x", "$SYS", "b/a"];
        let filters = [
            "#", "+", "a/#", "a/+", "+/+", "a/+/c", "$SYS/#", "+/a", "/+", "+/#", "$SYS",
        ];
        let mut s = RetainStore::default();
        for t in topics {
            s.set(msg(t, b"x"), 100);
        }
        for f in filters {
            let mut expected: Vec<String> = topics
                .iter()
                .filter(|t| topic_matches(f, t))
                .map(|t| t.to_string())
                .collect();
            expected.sort();
            assert_eq!(matching(&s, f), expected, "filter {f:?}");
        }
    }
}
