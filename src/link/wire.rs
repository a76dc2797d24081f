//! The link protocol on top of MQTT 5: how a link announces itself at CONNECT and how
//! route operations travel as PUBLISH packets on `$LINK/…` topics, which ordinary
//! clients can neither publish to nor subscribe to.
//!
//! Route replication over connection 0 of a link, in order (QoS 1):
//! `$LINK/routes/begin` (payload: incarnation), any number of `$LINK/routes/add`
//! (payload: filters, one per line), then `$LINK/routes/end`: the receiver swaps the
//! link's whole route set for the announced one. After that, `$LINK/routes/add` and
//! `$LINK/routes/del` change it incrementally.

use crate::protocol::{Bytes, MqttStr, Properties};

/// CONNECT user property naming the connecting cluster: marks a link connection.
pub const PROP_CLUSTER: &str = "meridian-link";
/// CONNECT user property: the connecting process's incarnation (changes on restart).
pub const PROP_INCARNATION: &str = "meridian-incarnation";
/// CONNECT user property: link protocol version.
pub const PROP_VERSION: &str = "meridian-link-version";
/// The link protocol version spoken here.
pub const VERSION: &str = "1";

/// Topics reserved for the link protocol start with this.
pub const RESERVED_PREFIX: &str = "$LINK";

pub const TOPIC_BEGIN: &str = "$LINK/routes/begin";
pub const TOPIC_ADD: &str = "$LINK/routes/add";
pub const TOPIC_DEL: &str = "$LINK/routes/del";
pub const TOPIC_END: &str = "$LINK/routes/end";

/// Largest route-operation payload we build (filters are split over several PUBLISH).
pub const MAX_ROUTE_PAYLOAD: usize = 32 * 1024;

/// Whether a topic name or filter is in the link protocol's reserved space.
pub fn is_reserved(topic: &str) -> bool {
    topic == RESERVED_PREFIX || topic.starts_with("$LINK/")
}

/// A route operation as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOp {
    Begin { incarnation: String },
    Add(Vec<String>),
    Del(Vec<String>),
    End,
}

impl RouteOp {
    /// Parses a `$LINK/routes/…` PUBLISH; `None` for an unknown topic or bad payload.
    pub fn parse(topic: &str, payload: &[u8]) -> Option<RouteOp> {
        let text = std::str::from_utf8(payload).ok()?;
        let filters = || {
            text.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match topic {
            TOPIC_BEGIN => Some(RouteOp::Begin {
                incarnation: text.to_owned(),
            }),
            TOPIC_ADD => Some(RouteOp::Add(filters())),
            TOPIC_DEL => Some(RouteOp::Del(filters())),
            TOPIC_END => Some(RouteOp::End),
            _ => None,
        }
    }
}

/// Splits filters into payloads of at most [`MAX_ROUTE_PAYLOAD`] bytes, one per line.
pub fn filter_payloads<'a>(filters: impl IntoIterator<Item = &'a str>) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut current = String::new();
    for f in filters {
        if !current.is_empty() && current.len() + f.len() + 1 > MAX_ROUTE_PAYLOAD {
            out.push(Bytes::from(std::mem::take(&mut current)));
        }
        current.push_str(f);
        current.push('\n');
    }
    if !current.is_empty() {
        out.push(Bytes::from(current));
    }
    out
}

/// The link announcement a CONNECT carries, if it is a link connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub cluster: String,
    pub incarnation: String,
}

impl Announce {
    /// Reads the announcement from CONNECT properties.
    pub fn from_properties(props: &Properties) -> Option<Announce> {
        let get = |key: &str| {
            props
                .user_properties
                .iter()
                .find(|(k, _)| k.as_str() == key)
                .map(|(_, v)| v.as_str().to_owned())
        };
        Some(Announce {
            cluster: get(PROP_CLUSTER)?,
            incarnation: get(PROP_INCARNATION).unwrap_or_default(),
        })
    }

    /// Writes the announcement into CONNECT properties.
    pub fn to_properties(&self, props: &mut Properties) {
        props.user_properties.push((
            MqttStr::from(PROP_CLUSTER),
            MqttStr::from(self.cluster.as_str()),
        ));
        props.user_properties.push((
            MqttStr::from(PROP_INCARNATION),
            MqttStr::from(self.incarnation.as_str()),
        ));
        props
            .user_properties
            .push((MqttStr::from(PROP_VERSION), MqttStr::from(VERSION)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn are_only_link_topics_reserved() {
        assert!(is_reserved("$LINK/routes/add"));
        assert!(is_reserved("$LINK"));
        assert!(is_reserved("$LINK/#"));
        assert!(!is_reserved("$LINKS/x"));
        assert!(!is_reserved("LINK/x"));
    }

    #[test]
    fn do_route_payloads_round_trip_and_split() {
        let filters: Vec<String> = (0..5000).map(|i| format!("sensors/{i}/+/temp")).collect();
        let payloads = filter_payloads(filters.iter().map(String::as_str));
        assert!(payloads.len() > 1);
        let mut back = Vec::new();
        for p in &payloads {
            assert!(p.len() <= MAX_ROUTE_PAYLOAD);
            match RouteOp::parse(TOPIC_ADD, p) {
                Some(RouteOp::Add(f)) => back.extend(f),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(back, filters);
    }

    #[test]
    fn does_an_announcement_survive_connect_properties() {
        let a = Announce {
            cluster: "aliyun".into(),
            incarnation: "42".into(),
        };
        let mut props = Properties::default();
        a.to_properties(&mut props);
        assert_eq!(Announce::from_properties(&props), Some(a));
        assert_eq!(Announce::from_properties(&Properties::default()), None);
    }
}
