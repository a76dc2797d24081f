//! MQTT 5.0 property identifiers ([MQTT-2.2.2.2]) and which packet (or the
//! will) each one may appear in.

/// Where a property list sits: a packet's variable header or CONNECT's will.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PropertyContext {
    Connect,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
    Will,
}

impl PropertyContext {
    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            PropertyContext::Connect => "CONNECT",
            PropertyContext::ConnAck => "CONNACK",
            PropertyContext::Publish => "PUBLISH",
            PropertyContext::PubAck => "PUBACK",
            PropertyContext::PubRec => "PUBREC",
            PropertyContext::PubRel => "PUBREL",
            PropertyContext::PubComp => "PUBCOMP",
            PropertyContext::Subscribe => "SUBSCRIBE",
            PropertyContext::SubAck => "SUBACK",
            PropertyContext::Unsubscribe => "UNSUBSCRIBE",
            PropertyContext::UnsubAck => "UNSUBACK",
            PropertyContext::Disconnect => "DISCONNECT",
            PropertyContext::Auth => "AUTH",
            PropertyContext::Will => "will properties",
        }
    }
}

/// The identifier byte of each property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQoS = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

const fn mask(contexts: &[PropertyContext]) -> u16 {
    let mut m = 0;
    let mut i = 0;
    while i < contexts.len() {
        m |= 1 << (contexts[i] as u16);
        i += 1;
    }
    m
}

use PropertyContext as C;
const MESSAGE: u16 = mask(&[C::Publish, C::Will]);
const ACKS_WITH_REASON_STRING: u16 = mask(&[
    C::ConnAck,
    C::PubAck,
    C::PubRec,
    C::PubRel,
    C::PubComp,
    C::SubAck,
    C::UnsubAck,
    C::Disconnect,
    C::Auth,
]);
const EVERYWHERE: u16 = u16::MAX;

impl PropertyId {
    pub(crate) fn from_u32(id: u32) -> Option<PropertyId> {
        use PropertyId::*;
        Some(match id {
            0x01 => PayloadFormatIndicator,
            0x02 => MessageExpiryInterval,
            0x03 => ContentType,
            0x08 => ResponseTopic,
            0x09 => CorrelationData,
            0x0B => SubscriptionIdentifier,
            0x11 => SessionExpiryInterval,
            0x12 => AssignedClientIdentifier,
            0x13 => ServerKeepAlive,
            0x15 => AuthenticationMethod,
            0x16 => AuthenticationData,
            0x17 => RequestProblemInformation,
            0x18 => WillDelayInterval,
            0x19 => RequestResponseInformation,
            0x1A => ResponseInformation,
            0x1C => ServerReference,
            0x1F => ReasonString,
            0x21 => ReceiveMaximum,
            0x22 => TopicAliasMaximum,
            0x23 => TopicAlias,
            0x24 => MaximumQoS,
            0x25 => RetainAvailable,
            0x26 => UserProperty,
            0x27 => MaximumPacketSize,
            0x28 => WildcardSubscriptionAvailable,
            0x29 => SubscriptionIdentifierAvailable,
            0x2A => SharedSubscriptionAvailable,
            _ => return None,
        })
    }

    /// The spec's name, for error messages.
    pub(crate) fn name(self) -> &'static str {
        use PropertyId::*;
        match self {
            PayloadFormatIndicator => "Payload Format Indicator",
            MessageExpiryInterval => "Message Expiry Interval",
            ContentType => "Content Type",
            ResponseTopic => "Response Topic",
            CorrelationData => "Correlation Data",
            SubscriptionIdentifier => "Subscription Identifier",
            SessionExpiryInterval => "Session Expiry Interval",
            AssignedClientIdentifier => "Assigned Client Identifier",
            ServerKeepAlive => "Server Keep Alive",
            AuthenticationMethod => "Authentication Method",
            AuthenticationData => "Authentication Data",
            RequestProblemInformation => "Request Problem Information",
            WillDelayInterval => "Will Delay Interval",
            RequestResponseInformation => "Request Response Information",
            ResponseInformation => "Response Information",
            ServerReference => "Server Reference",
            ReasonString => "Reason String",
            ReceiveMaximum => "Receive Maximum",
            TopicAliasMaximum => "Topic Alias Maximum",
            TopicAlias => "Topic Alias",
            MaximumQoS => "Maximum QoS",
            RetainAvailable => "Retain Available",
            UserProperty => "User Property",
            MaximumPacketSize => "Maximum Packet Size",
            WildcardSubscriptionAvailable => "Wildcard Subscription Available",
            SubscriptionIdentifierAvailable => "Subscription Identifier Available",
            SharedSubscriptionAvailable => "Shared Subscription Available",
        }
    }

    /// The table of §2.2.2.2: may this property appear in `ctx`?
    pub(crate) fn allowed_in(self, ctx: PropertyContext) -> bool {
        use PropertyId::*;
        let allowed = match self {
            PayloadFormatIndicator
            | MessageExpiryInterval
            | ContentType
            | ResponseTopic
            | CorrelationData => MESSAGE,
            SubscriptionIdentifier => mask(&[C::Publish, C::Subscribe]),
            SessionExpiryInterval => mask(&[C::Connect, C::ConnAck, C::Disconnect]),
            AssignedClientIdentifier
            | ServerKeepAlive
            | ResponseInformation
            | MaximumQoS
            | RetainAvailable
            | WildcardSubscriptionAvailable
            | SubscriptionIdentifierAvailable
            | SharedSubscriptionAvailable => mask(&[C::ConnAck]),
            AuthenticationMethod | AuthenticationData => mask(&[C::Connect, C::ConnAck, C::Auth]),
            RequestProblemInformation | RequestResponseInformation => mask(&[C::Connect]),
            WillDelayInterval => mask(&[C::Will]),
            ServerReference => mask(&[C::ConnAck, C::Disconnect]),
            ReasonString => ACKS_WITH_REASON_STRING,
            ReceiveMaximum | TopicAliasMaximum | MaximumPacketSize => {
                mask(&[C::Connect, C::ConnAck])
            }
            TopicAlias => mask(&[C::Publish]),
            UserProperty => EVERYWHERE,
        };
        allowed & ctx.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_every_identifier_round_trip() {
        let known: Vec<u32> = (0..=0x7F)
            .filter(|&i| PropertyId::from_u32(i).is_some())
            .collect();
        assert_eq!(known.len(), 27);
        for id in known {
            let p = PropertyId::from_u32(id).expect("known");
            assert_eq!(p as u32, id);
        }
    }

    #[test]
    fn which_contexts_allow_which_properties() {
        assert!(PropertyId::WillDelayInterval.allowed_in(C::Will));
        assert!(!PropertyId::WillDelayInterval.allowed_in(C::Connect));
        assert!(PropertyId::TopicAlias.allowed_in(C::Publish));
        assert!(!PropertyId::TopicAlias.allowed_in(C::Will));
        assert!(PropertyId::ReasonString.allowed_in(C::Auth));
        assert!(!PropertyId::ReasonString.allowed_in(C::Publish));
        assert!(PropertyId::UserProperty.allowed_in(C::Unsubscribe));
        assert!(PropertyId::SubscriptionIdentifier.allowed_in(C::Subscribe));
        assert!(!PropertyId::SubscriptionIdentifier.allowed_in(C::Unsubscribe));
    }
}
