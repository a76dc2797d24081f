//! MQTT 5.0 reason codes ([MQTT-2.4]), which packet may carry which, and the
//! mapping to and from MQTT 3.1.1 CONNACK / SUBACK return codes.

use super::error::ProtocolError;

/// Every MQTT 5.0 reason code. Values shared by several names (0x00 is Success,
/// Normal disconnection and Granted QoS 0) have one variant and associated
/// constants for the other names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReasonCode {
    Success = 0x00,
    GrantedQoS1 = 0x01,
    GrantedQoS2 = 0x02,
    DisconnectWithWill = 0x04,
    NoMatchingSubscribers = 0x10,
    NoSubscriptionExisted = 0x11,
    ContinueAuthentication = 0x18,
    ReAuthenticate = 0x19,
    UnspecifiedError = 0x80,
    MalformedPacket = 0x81,
    ProtocolError = 0x82,
    ImplementationSpecificError = 0x83,
    UnsupportedProtocolVersion = 0x84,
    ClientIdentifierNotValid = 0x85,
    BadUserNameOrPassword = 0x86,
    NotAuthorized = 0x87,
    ServerUnavailable = 0x88,
    ServerBusy = 0x89,
    Banned = 0x8A,
    ServerShuttingDown = 0x8B,
    BadAuthenticationMethod = 0x8C,
    KeepAliveTimeout = 0x8D,
    SessionTakenOver = 0x8E,
    TopicFilterInvalid = 0x8F,
    TopicNameInvalid = 0x90,
    PacketIdentifierInUse = 0x91,
    PacketIdentifierNotFound = 0x92,
    ReceiveMaximumExceeded = 0x93,
    TopicAliasInvalid = 0x94,
    PacketTooLarge = 0x95,
    MessageRateTooHigh = 0x96,
    QuotaExceeded = 0x97,
    AdministrativeAction = 0x98,
    PayloadFormatInvalid = 0x99,
    RetainNotSupported = 0x9A,
    QoSNotSupported = 0x9B,
    UseAnotherServer = 0x9C,
    ServerMoved = 0x9D,
    SharedSubscriptionsNotSupported = 0x9E,
    ConnectionRateExceeded = 0x9F,
    MaximumConnectTime = 0xA0,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
}

// The spec gives 0x00 three names; these read like variants at call sites
// (and work in patterns), so they keep the variant naming style.
#[allow(non_upper_case_globals)]
impl ReasonCode {
    /// 0x00 in DISCONNECT.
    pub const NormalDisconnection: ReasonCode = ReasonCode::Success;
    /// 0x00 in SUBACK.
    pub const GrantedQoS0: ReasonCode = ReasonCode::Success;
}

/// The packets that carry reason codes, for [`ReasonCode::is_valid_for`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReasonPacket {
    ConnAck,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    SubAck,
    UnsubAck,
    Disconnect,
    Auth,
}

impl ReasonPacket {
    /// The packet's name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            ReasonPacket::ConnAck => "CONNACK",
            ReasonPacket::PubAck => "PUBACK",
            ReasonPacket::PubRec => "PUBREC",
            ReasonPacket::PubRel => "PUBREL",
            ReasonPacket::PubComp => "PUBCOMP",
            ReasonPacket::SubAck => "SUBACK",
            ReasonPacket::UnsubAck => "UNSUBACK",
            ReasonPacket::Disconnect => "DISCONNECT",
            ReasonPacket::Auth => "AUTH",
        }
    }
}

impl ReasonCode {
    /// Decodes a 5.0 reason code byte of `packet`: unassigned values and codes
    /// the packet may not carry are malformed [MQTT §2.4].
    pub(crate) fn decode_for(code: u8, packet: ReasonPacket) -> Result<Self, ProtocolError> {
        match ReasonCode::from_u8(code) {
            Some(rc) if rc.is_valid_for(packet) => Ok(rc),
            _ => Err(ProtocolError::InvalidReasonCode {
                packet: packet.name(),
                code,
            }),
        }
    }

    /// The reason code with wire value `v`; `None` for unassigned values.
    pub fn from_u8(v: u8) -> Option<Self> {
        use ReasonCode::*;
        Some(match v {
            0x00 => Success,
            0x01 => GrantedQoS1,
            0x02 => GrantedQoS2,
            0x04 => DisconnectWithWill,
            0x10 => NoMatchingSubscribers,
            0x11 => NoSubscriptionExisted,
            0x18 => ContinueAuthentication,
            0x19 => ReAuthenticate,
            0x80 => UnspecifiedError,
            0x81 => MalformedPacket,
            0x82 => ProtocolError,
            0x83 => ImplementationSpecificError,
            0x84 => UnsupportedProtocolVersion,
            0x85 => ClientIdentifierNotValid,
            0x86 => BadUserNameOrPassword,
            0x87 => NotAuthorized,
            0x88 => ServerUnavailable,
            0x89 => ServerBusy,
            0x8A => Banned,
            0x8B => ServerShuttingDown,
            0x8C => BadAuthenticationMethod,
            0x8D => KeepAliveTimeout,
            0x8E => SessionTakenOver,
            0x8F => TopicFilterInvalid,
            0x90 => TopicNameInvalid,
            0x91 => PacketIdentifierInUse,
            0x92 => PacketIdentifierNotFound,
            0x93 => ReceiveMaximumExceeded,
            0x94 => TopicAliasInvalid,
            0x95 => PacketTooLarge,
            0x96 => MessageRateTooHigh,
            0x97 => QuotaExceeded,
            0x98 => AdministrativeAction,
            0x99 => PayloadFormatInvalid,
            0x9A => RetainNotSupported,
            0x9B => QoSNotSupported,
            0x9C => UseAnotherServer,
            0x9D => ServerMoved,
            0x9E => SharedSubscriptionsNotSupported,
            0x9F => ConnectionRateExceeded,
            0xA0 => MaximumConnectTime,
            0xA1 => SubscriptionIdentifiersNotSupported,
            0xA2 => WildcardSubscriptionsNotSupported,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// True for failures (0x80 and above) [MQTT-2.4].
    pub fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }

    /// Whether MQTT 5.0 allows this code in `packet` (the per-packet tables of §3).
    pub fn is_valid_for(self, packet: ReasonPacket) -> bool {
        let v = self.as_u8();
        match packet {
            ReasonPacket::ConnAck => matches!(
                v,
                0x00 | 0x80..=0x8A | 0x8C | 0x90 | 0x95 | 0x97 | 0x99..=0x9D | 0x9F
            ),
            ReasonPacket::PubAck | ReasonPacket::PubRec => {
                matches!(
                    v,
                    0x00 | 0x10 | 0x80 | 0x83 | 0x87 | 0x90 | 0x91 | 0x97 | 0x99
                )
            }
            ReasonPacket::PubRel | ReasonPacket::PubComp => matches!(v, 0x00 | 0x92),
            ReasonPacket::SubAck => matches!(
                v,
                0x00..=0x02 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91 | 0x97 | 0x9E | 0xA1 | 0xA2
            ),
            ReasonPacket::UnsubAck => {
                matches!(v, 0x00 | 0x11 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91)
            }
            ReasonPacket::Disconnect => matches!(
                v,
                0x00 | 0x04 | 0x80..=0x83 | 0x87 | 0x89 | 0x8B | 0x8D..=0x90 | 0x93..=0xA2
            ),
            ReasonPacket::Auth => matches!(v, 0x00 | 0x18 | 0x19),
        }
    }

    /// The reason code for an MQTT 3.1.1 CONNACK return code (0x00..=0x05).
    pub fn from_connack_v3(code: u8) -> Option<Self> {
        Some(match code {
            0 => ReasonCode::Success,
            1 => ReasonCode::UnsupportedProtocolVersion,
            2 => ReasonCode::ClientIdentifierNotValid,
            3 => ReasonCode::ServerUnavailable,
            4 => ReasonCode::BadUserNameOrPassword,
            5 => ReasonCode::NotAuthorized,
            _ => return None,
        })
    }

    /// The MQTT 3.1.1 CONNACK return code closest to this reason code; failures
    /// without a 3.1.1 counterpart become 0x03 Server unavailable.
    pub fn to_connack_v3(self) -> u8 {
        use ReasonCode::*;
        match self {
            Success => 0,
            UnsupportedProtocolVersion => 1,
            ClientIdentifierNotValid => 2,
            BadUserNameOrPassword | BadAuthenticationMethod => 4,
            NotAuthorized | Banned => 5,
            _ => 3,
        }
    }

    /// The reason code for an MQTT 3.1.1 SUBACK return code (0x00..=0x02, 0x80).
    pub fn from_suback_v3(code: u8) -> Option<Self> {
        Some(match code {
            0 => ReasonCode::GrantedQoS0,
            1 => ReasonCode::GrantedQoS1,
            2 => ReasonCode::GrantedQoS2,
            0x80 => ReasonCode::UnspecifiedError,
            _ => return None,
        })
    }

    /// The MQTT 3.1.1 SUBACK return code: the granted QoS, or 0x80 for any failure.
    pub fn to_suback_v3(self) -> u8 {
        match self {
            ReasonCode::GrantedQoS1 => 1,
            ReasonCode::GrantedQoS2 => 2,
            code if code.is_error() => 0x80,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn does_every_assigned_value_round_trip() {
        let mut assigned = 0;
        for v in 0..=255u8 {
            if let Some(code) = ReasonCode::from_u8(v) {
                assert_eq!(code.as_u8(), v);
                assigned += 1;
            }
        }
        // 0x00..0x02, 0x04, 0x10, 0x11, 0x18, 0x19 and 0x80..=0xA2.
        assert_eq!(assigned, 8 + 35);
        assert_eq!(ReasonCode::from_u8(0x03), None);
        assert_eq!(ReasonCode::from_u8(0xA3), None);
    }

    #[test]
    fn is_error_exactly_0x80_and_above() {
        assert!(!ReasonCode::NoMatchingSubscribers.is_error());
        assert!(ReasonCode::UnspecifiedError.is_error());
        assert!(ReasonCode::WildcardSubscriptionsNotSupported.is_error());
    }

    #[test]
    fn are_aliases_of_success_usable_in_patterns() {
        match ReasonCode::Success {
            ReasonCode::NormalDisconnection => {}
            _ => panic!("0x00 is Normal disconnection"),
        }
        assert_eq!(ReasonCode::GrantedQoS0.as_u8(), 0);
    }

    #[test]
    fn which_codes_may_each_packet_carry() {
        assert!(ReasonCode::NotAuthorized.is_valid_for(ReasonPacket::ConnAck));
        assert!(!ReasonCode::SessionTakenOver.is_valid_for(ReasonPacket::ConnAck));
        assert!(ReasonCode::SessionTakenOver.is_valid_for(ReasonPacket::Disconnect));
        assert!(!ReasonCode::PacketIdentifierInUse.is_valid_for(ReasonPacket::Disconnect));
        assert!(ReasonCode::ReceiveMaximumExceeded.is_valid_for(ReasonPacket::Disconnect));
        assert!(!ReasonCode::GrantedQoS1.is_valid_for(ReasonPacket::PubAck));
        assert!(ReasonCode::PacketIdentifierNotFound.is_valid_for(ReasonPacket::PubComp));
        assert!(!ReasonCode::NotAuthorized.is_valid_for(ReasonPacket::PubRel));
        assert!(ReasonCode::ReAuthenticate.is_valid_for(ReasonPacket::Auth));
        assert!(!ReasonCode::UnspecifiedError.is_valid_for(ReasonPacket::Auth));
    }

    #[test]
    fn do_v3_return_codes_map_both_ways() {
        for code in 0..=5 {
            let rc = ReasonCode::from_connack_v3(code).expect("0..=5 are defined");
            assert_eq!(rc.to_connack_v3(), code);
        }
        assert_eq!(ReasonCode::from_connack_v3(6), None);
        assert_eq!(ReasonCode::QuotaExceeded.to_connack_v3(), 3);
        assert_eq!(ReasonCode::QuotaExceeded.to_suback_v3(), 0x80);
        assert_eq!(
            ReasonCode::from_suback_v3(0x80),
            Some(ReasonCode::UnspecifiedError)
        );
        assert_eq!(ReasonCode::from_suback_v3(3), None);
    }
}
