//! Decode and encode errors. Every decode error names the spec rule it breaks
//! and maps, in [`ProtocolError::reason_code`], to the reason code a 5.0 server
//! sends in its DISCONNECT (or CONNACK, if the error was in CONNECT).

use super::qos::ProtocolVersion;
use super::reason::ReasonCode;

/// Why received bytes are not a valid MQTT packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("[MQTT-1.5.5/2.2.3] variable byte integer ({what}) longer than 4 bytes")]
    VarIntTooLong { what: &'static str },
    #[error("[MQTT §2.1.2] packet type {0} is reserved")]
    ReservedPacketType(u8),
    #[error("[MQTT-3.1.0-1] the first packet must be CONNECT, got packet type {0}")]
    FirstPacketNotConnect(u8),
    #[error("[MQTT-3.1.0-2] a second CONNECT on the same connection")]
    SecondConnect,
    #[error("[MQTT-2.1.3-1] packet type {packet_type} has reserved flags {flags:#06b}")]
    ReservedFlags { packet_type: u8, flags: u8 },
    #[error("[MQTT-3.2.2-15] packet of {size} bytes exceeds the maximum packet size {max}")]
    PacketTooLarge { size: usize, max: u32 },
    #[error("[MQTT §1.5] {what} runs past the end of the packet")]
    UnexpectedEnd { what: &'static str },
    #[error("[MQTT §2.1.4] {count} bytes left after the end of the {packet}")]
    TrailingBytes { packet: &'static str, count: usize },
    #[error("[MQTT-1.5.4-1] {what} is not valid UTF-8")]
    InvalidUtf8 { what: &'static str },
    #[error("[MQTT-1.5.4-2] {what} contains U+0000")]
    NullInString { what: &'static str },
    #[error("[MQTT-2.2.1-3] packet identifier 0 in {packet}")]
    ZeroPacketId { packet: &'static str },
    #[error("[MQTT-3.1.2-1] protocol name is not \"MQTT\" (or \"MQIsdp\" at level 3)")]
    InvalidProtocolName,
    #[error("[MQTT-3.1.2-2] unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    #[error("[MQTT-3.1.2-3] CONNECT reserved flag is set")]
    ConnectReservedFlag,
    #[error("[MQTT-3.1.2-11 (5.0) / 3.1.2-13 (3.1.1)] will QoS is set without the will flag")]
    WillQoSWithoutWill,
    #[error("[MQTT-3.1.2-13 (5.0) / 3.1.2-15 (3.1.1)] will retain is set without the will flag")]
    WillRetainWithoutWill,
    #[error("[MQTT-3.1.2-12 (5.0) / 3.1.2-14 (3.1.1)] will QoS is 3")]
    InvalidWillQoS,
    #[error("[MQTT-3.1.2-22] password flag set without the user name flag (MQTT 3.1.1)")]
    PasswordWithoutUsername,
    #[error("[MQTT-3.1.3-8] empty client identifier without clean session (MQTT 3.x)")]
    ClientIdRejected,
    #[error("[MQTT-3.2.2-1] CONNACK acknowledge flags {0:#04x} have reserved bits set")]
    ConnAckReservedFlags(u8),
    #[error("[MQTT-3.2.2-4 (3.1.1) / 3.2.2-6 (5.0)] session present with a failing CONNACK")]
    SessionPresentOnFailure,
    #[error("[MQTT-3.3.1-4] PUBLISH QoS is 3")]
    InvalidQoS,
    #[error("[MQTT-3.3.1-2] DUP is set on a QoS 0 PUBLISH")]
    DupWithQoS0,
    #[error("[MQTT-3.3.2-2] topic name {0:?} contains a wildcard")]
    TopicNameWildcard(String),
    #[error("[MQTT-4.7.3-1] topic name is empty")]
    EmptyTopicName,
    #[error("[MQTT §3.3.2.3.4] empty topic name without a Topic Alias (MQTT 5.0)")]
    EmptyTopicWithoutAlias,
    #[error("[MQTT-4.7.3-1] topic filter is empty")]
    EmptyTopicFilter,
    #[error("[MQTT-4.7.1-2] '#' is not the last character, alone in its level: {0:?}")]
    MultiLevelWildcardMisplaced(String),
    #[error("[MQTT-4.7.1-3] '+' does not occupy a whole level: {0:?}")]
    SingleLevelWildcardMisplaced(String),
    #[error("[MQTT-4.8.2-1/2] malformed shared subscription {0:?}")]
    InvalidSharedSubscription(String),
    #[error("topic has {levels} levels, more than the limit of {max}")]
    TooManyTopicLevels { levels: usize, max: usize },
    #[error("[MQTT-3.8.3-3 (3.1.1) / 3.8.3-2 (5.0)] SUBSCRIBE without topic filters")]
    NoSubscribeFilters,
    #[error("[MQTT-3.10.3-2] UNSUBSCRIBE without topic filters")]
    NoUnsubscribeFilters,
    #[error("[MQTT-3.8.3-4] No Local on the shared subscription {0:?}")]
    NoLocalOnSharedSubscription(String),
    #[error(
        "[MQTT-3.8.3-5 (5.0) / 3-8.3-4 (3.1.1)] subscription options {0:#04x} set reserved bits"
    )]
    SubscriptionOptionsReserved(u8),
    #[error("[MQTT-3-8.3-4 (3.1.1) / §3.8.3.1 (5.0)] subscription QoS is 3")]
    SubscriptionQoSInvalid,
    #[error("[MQTT §3.8.3.1] retain handling is 3")]
    RetainHandlingInvalid,
    #[error("[MQTT §2.4] {code:#04x} is not a valid reason code in {packet}")]
    InvalidReasonCode { packet: &'static str, code: u8 },
    #[error("[MQTT §2.2.2.2] unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    #[error("[MQTT §2.2.2.2] {property} appears more than once")]
    DuplicateProperty { property: &'static str },
    #[error("[MQTT §2.2.2.2] {property} is not allowed in {packet}")]
    PropertyNotAllowed {
        property: &'static str,
        packet: &'static str,
    },
    #[error("[MQTT §2.2.2.2] {property} has the invalid value {value}")]
    InvalidPropertyValue { property: &'static str, value: u32 },
    #[error("[MQTT §3.1.2.11.10] Authentication Data without Authentication Method")]
    AuthDataWithoutMethod,
}

impl ProtocolError {
    /// The reason code a 5.0 server sends for this error (in DISCONNECT, or in
    /// CONNACK when it was found in CONNECT).
    pub fn reason_code(&self) -> ReasonCode {
        use ProtocolError::*;
        match self {
            VarIntTooLong { .. }
            | ReservedPacketType(_)
            | ReservedFlags { .. }
            | UnexpectedEnd { .. }
            | TrailingBytes { .. }
            | InvalidUtf8 { .. }
            | NullInString { .. }
            | ConnectReservedFlag
            | WillQoSWithoutWill
            | WillRetainWithoutWill
            | InvalidWillQoS
            | ConnAckReservedFlags(_)
            | InvalidQoS
            | DupWithQoS0
            | SubscriptionOptionsReserved(_)
            | InvalidReasonCode { .. }
            | UnknownProperty(_)
            | PropertyNotAllowed { .. } => ReasonCode::MalformedPacket,
            FirstPacketNotConnect(_)
            | SecondConnect
            | ZeroPacketId { .. }
            | PasswordWithoutUsername
            | SessionPresentOnFailure
            | EmptyTopicWithoutAlias
            | NoSubscribeFilters
            | NoUnsubscribeFilters
            | SubscriptionQoSInvalid
            | RetainHandlingInvalid
            | NoLocalOnSharedSubscription(_)
            | DuplicateProperty { .. }
            | InvalidPropertyValue { .. }
            | AuthDataWithoutMethod => ReasonCode::ProtocolError,
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            InvalidProtocolName | UnsupportedProtocolLevel(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            ClientIdRejected => ReasonCode::ClientIdentifierNotValid,
            TopicNameWildcard(_) | EmptyTopicName | TooManyTopicLevels { .. } => {
                ReasonCode::TopicNameInvalid
            }
            EmptyTopicFilter
            | MultiLevelWildcardMisplaced(_)
            | SingleLevelWildcardMisplaced(_)
            | InvalidSharedSubscription(_) => ReasonCode::TopicFilterInvalid,
        }
    }
}

/// Why a packet cannot be written in the requested version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("[MQTT-1.5.4] {field} is {len} bytes, more than 65535")]
    StringTooLong { field: &'static str, len: usize },
    #[error("[MQTT-1.5.6] {field} is {len} bytes, more than 65535")]
    BinaryTooLong { field: &'static str, len: usize },
    #[error("[MQTT-1.5.5] {field} value {value} exceeds 268435455")]
    VarIntTooLarge { field: &'static str, value: u32 },
    #[error("[MQTT-2.2.3] remaining length {0} exceeds 268435455")]
    PacketTooLarge(usize),
    #[error("{what} cannot be expressed in {version:?}")]
    NotInVersion {
        what: &'static str,
        version: ProtocolVersion,
    },
    #[error("[MQTT-2.2.1-3] packet identifier 0 in {packet}")]
    ZeroPacketId { packet: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn do_errors_map_to_their_disconnect_reason_codes() {
        assert_eq!(
            ProtocolError::InvalidQoS.reason_code(),
            ReasonCode::MalformedPacket
        );
        assert_eq!(
            ProtocolError::NoSubscribeFilters.reason_code(),
            ReasonCode::ProtocolError
        );
        assert_eq!(
            ProtocolError::PacketTooLarge { size: 10, max: 5 }.reason_code(),
            ReasonCode::PacketTooLarge
        );
        assert_eq!(
            ProtocolError::TopicNameWildcard("a/+".into()).reason_code(),
            ReasonCode::TopicNameInvalid
        );
        assert_eq!(
            ProtocolError::UnsupportedProtocolLevel(6).reason_code(),
            ReasonCode::UnsupportedProtocolVersion
        );
        assert_eq!(
            ProtocolError::ClientIdRejected.reason_code(),
            ReasonCode::ClientIdentifierNotValid
        );
    }

    #[test]
    fn does_the_message_quote_the_rule() {
        let msg = ProtocolError::NullInString { what: "topic name" }.to_string();
        assert_eq!(msg, "[MQTT-1.5.4-2] topic name contains U+0000");
    }
}
