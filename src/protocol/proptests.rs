//! Property tests of the whole codec: every packet round-trips through
//! encode → decode in every version that can express it, `encoded_len` is
//! exact, a packet stream decodes the same however it is split, and no input
//! makes the decoder panic.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;

use super::property_id::{PropertyContext, PropertyId};
use super::*;

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

fn text() -> impl Strategy<Value = MqttStr> {
    "\\PC{0,6}".prop_map(MqttStr::from)
}

fn topic_name() -> impl Strategy<Value = MqttStr> {
    "[a-z0-9/é]{1,10}".prop_map(MqttStr::from)
}

fn topic_filter() -> impl Strategy<Value = MqttStr> {
    "[a-z0-9/+#]{1,10}".prop_map(MqttStr::from)
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

/// Properties valid in `ctx`: a few random entries, each kept only if the
/// context allows it and its slot is free; empty for 3.x.
fn properties(ctx: PropertyContext, version: ProtocolVersion) -> BoxedStrategy<Properties> {
    if !version.is_v5() {
        return Just(Properties::default()).boxed();
    }
    vec((any::<u8>(), any::<u32>(), text(), binary()), 0..6)
        .prop_map(move |entries| {
            let ids: Vec<PropertyId> = (0..0x30).filter_map(PropertyId::from_u32).collect();
            let mut p = Properties::default();
            for (sel, n, s, b) in entries {
                let id = ids[usize::from(sel) % ids.len()];
                if id.allowed_in(ctx) {
                    add(&mut p, id, ctx, n, s, b);
                }
            }
            p
        })
        .boxed()
}

fn add(p: &mut Properties, id: PropertyId, ctx: PropertyContext, n: u32, s: MqttStr, b: Bytes) {
    use PropertyId::*;
    let flag = (n % 2) as u8;
    let short = n as u16;
    match id {
        PayloadFormatIndicator => fill(&mut p.payload_format_indicator, flag),
        MessageExpiryInterval => fill(&mut p.message_expiry_interval, n),
        ContentType => fill(&mut p.content_type, s),
        ResponseTopic => fill(&mut p.response_topic, s),
        CorrelationData => fill(&mut p.correlation_data, b),
        SubscriptionIdentifier => {
            if ctx == PropertyContext::Publish || p.subscription_identifiers.is_empty() {
                p.subscription_identifiers.push(n % MAX_VAR_INT + 1);
            }
        }
        SessionExpiryInterval => fill(&mut p.session_expiry_interval, n),
        AssignedClientIdentifier => fill(&mut p.assigned_client_identifier, s),
        ServerKeepAlive => fill(&mut p.server_keep_alive, short),
        AuthenticationMethod => fill(&mut p.authentication_method, s),
        AuthenticationData => {
            fill(&mut p.authentication_data, b);
            fill(&mut p.authentication_method, s);
        }
        RequestProblemInformation => fill(&mut p.request_problem_information, flag),
        WillDelayInterval => fill(&mut p.will_delay_interval, n),
        RequestResponseInformation => fill(&mut p.request_response_information, flag),
        ResponseInformation => fill(&mut p.response_information, s),
        ServerReference => fill(&mut p.server_reference, s),
        ReasonString => fill(&mut p.reason_string, s),
        ReceiveMaximum => fill(&mut p.receive_maximum, short.max(1)),
        TopicAliasMaximum => fill(&mut p.topic_alias_maximum, short),
        TopicAlias => fill(&mut p.topic_alias, short.max(1)),
        MaximumQoS => fill(&mut p.maximum_qos, flag),
        RetainAvailable => fill(&mut p.retain_available, flag),
        UserProperty => p.user_properties.push((s.clone(), s)),
        MaximumPacketSize => fill(&mut p.maximum_packet_size, n.max(1)),
        WildcardSubscriptionAvailable => fill(&mut p.wildcard_subscription_available, flag),
        SubscriptionIdentifierAvailable => fill(&mut p.subscription_identifier_available, flag),
        SharedSubscriptionAvailable => fill(&mut p.shared_subscription_available, flag),
    }
}

/// Sets an absent single-valued property; a present one keeps its value.
fn fill<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

/// A reason code `packet` may carry in `version` (3.x: what its wire can say).
fn reason(packet: ReasonPacket, version: ProtocolVersion) -> BoxedStrategy<ReasonCode> {
    let codes: Vec<ReasonCode> = (0..=255u8)
        .filter_map(ReasonCode::from_u8)
        .filter(|rc| rc.is_valid_for(packet))
        .filter(|rc| match (version.is_v5(), packet) {
            (true, _) => true,
            (false, ReasonPacket::ConnAck) => {
                ReasonCode::from_connack_v3(rc.to_connack_v3()) == Some(*rc)
            }
            (false, ReasonPacket::SubAck) => {
                ReasonCode::from_suback_v3(rc.to_suback_v3()) == Some(*rc)
            }
            (false, _) => *rc == ReasonCode::Success,
        })
        .collect();
    proptest::sample::select(codes).boxed()
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let will = (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        properties(PropertyContext::Will, version),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        (any::<bool>(), any::<u16>(), "[a-zA-Z0-9]{1,10}"),
        proptest::option::of(will),
        proptest::option::of(text()),
        proptest::option::of(binary()),
        properties(PropertyContext::Connect, version),
    )
        .prop_map(
            move |((clean_start, keep_alive, id), will, username, password, properties)| {
                let password = if version.is_v5() || username.is_some() {
                    password
                } else {
                    None
                };
                Packet::Connect(Box::new(Connect {
                    protocol: version,
                    clean_start,
                    keep_alive,
                    client_id: MqttStr::from(id),
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Publish> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        1..=u16::MAX,
        binary(),
        properties(PropertyContext::Publish, version),
    )
        .prop_map(|(qos, dup, retain, topic, id, payload, properties)| {
            let at_most_once = qos == QoS::AtMostOnce;
            Publish {
                dup: dup && !at_most_once,
                qos,
                retain,
                topic,
                packet_id: if at_most_once { 0 } else { id },
                payload,
                properties,
            }
        })
}

fn pub_resp(
    kind: ReasonPacket,
    ctx: PropertyContext,
    version: ProtocolVersion,
) -> impl Strategy<Value = PubResp> {
    (
        1..=u16::MAX,
        reason(kind, version),
        properties(ctx, version),
    )
        .prop_map(|(packet_id, reason_code, properties)| PubResp {
            packet_id,
            reason_code,
            properties,
        })
}

fn subscription_options(version: ProtocolVersion) -> impl Strategy<Value = SubscriptionOptions> {
    (qos(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(move |(qos, no_local, rap, rh)| {
        if version.is_v5() {
            SubscriptionOptions {
                qos,
                no_local,
                retain_as_published: rap,
                retain_handling: rh,
            }
        } else {
            SubscriptionOptions::new(qos)
        }
    })
}

fn reason_props(
    kind: ReasonPacket,
    ctx: PropertyContext,
    version: ProtocolVersion,
) -> impl Strategy<Value = (ReasonCode, Properties)> {
    (reason(kind, version), properties(ctx, version))
}

/// Any packet (but CONNECT) expressible in `version`.
fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    use PropertyContext as C;
    use ReasonPacket as R;
    let v = version;
    let mut options = vec![
        (
            any::<bool>(),
            reason(R::ConnAck, v),
            properties(C::ConnAck, v),
        )
            .prop_map(|(sp, reason_code, properties)| {
                let session_present = sp && reason_code == ReasonCode::Success;
                Packet::ConnAck(ConnAck {
                    session_present,
                    reason_code,
                    properties,
                })
            })
            .boxed(),
        publish(v).prop_map(Packet::Publish).boxed(),
        pub_resp(R::PubAck, C::PubAck, v)
            .prop_map(Packet::PubAck)
            .boxed(),
        pub_resp(R::PubRec, C::PubRec, v)
            .prop_map(Packet::PubRec)
            .boxed(),
        pub_resp(R::PubRel, C::PubRel, v)
            .prop_map(Packet::PubRel)
            .boxed(),
        pub_resp(R::PubComp, C::PubComp, v)
            .prop_map(Packet::PubComp)
            .boxed(),
        (
            1..=u16::MAX,
            properties(C::Subscribe, v),
            vec((topic_filter(), subscription_options(v)), 1..4),
        )
            .prop_map(|(packet_id, properties, filters)| {
                Packet::Subscribe(Subscribe {
                    packet_id,
                    properties,
                    filters,
                })
            })
            .boxed(),
        (
            any::<u16>(),
            properties(C::SubAck, v),
            vec(reason(R::SubAck, v), 0..4),
        )
            .prop_map(|(packet_id, properties, reason_codes)| {
                Packet::SubAck(SubAck {
                    packet_id,
                    properties,
                    reason_codes,
                })
            })
            .boxed(),
        (
            1..=u16::MAX,
            properties(C::Unsubscribe, v),
            vec(topic_filter(), 1..4),
        )
            .prop_map(|(packet_id, properties, filters)| {
                Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    properties,
                    filters,
                })
            })
            .boxed(),
        (
            any::<u16>(),
            properties(C::UnsubAck, v),
            vec(reason(R::UnsubAck, v), 0..4),
        )
            .prop_map(move |(packet_id, properties, codes)| {
                let reason_codes = if v.is_v5() { codes } else { Vec::new() };
                Packet::UnsubAck(UnsubAck {
                    packet_id,
                    properties,
                    reason_codes,
                })
            })
            .boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        reason_props(R::Disconnect, C::Disconnect, v)
            .prop_map(move |(reason_code, properties)| {
                let reason_code = if v.is_v5() {
                    reason_code
                } else {
                    ReasonCode::NormalDisconnection
                };
                Packet::Disconnect(Disconnect {
                    reason_code,
                    properties,
                })
            })
            .boxed(),
    ];
    if v.is_v5() {
        options.push(
            reason_props(R::Auth, C::Auth, v)
                .prop_map(|(reason_code, properties)| {
                    Packet::Auth(Auth {
                        reason_code,
                        properties,
                    })
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(options).boxed()
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    proptest::sample::select(VERSIONS.to_vec())
}

fn limits(version: Option<ProtocolVersion>) -> DecodeLimits {
    DecodeLimits {
        version,
        ..DecodeLimits::default()
    }
}

/// Decodes everything decodable in `buf`.
fn drain(buf: &mut BytesMut, l: &DecodeLimits) -> Result<Vec<Packet>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(p) = decode(buf, l)? {
        out.push(p);
    }
    Ok(out)
}

fn encode_all(packets: &[Packet], v: ProtocolVersion) -> BytesMut {
    let mut out = BytesMut::new();
    for p in packets {
        encode(p, v, &mut out).expect("generated packets are encodable");
    }
    out
}

proptest! {
    #[test]
    fn does_every_packet_round_trip((v, p) in version().prop_flat_map(|v| (Just(v), packet(v)))) {
        let mut buf = BytesMut::new();
        encode(&p, v, &mut buf).expect("encodable");
        prop_assert_eq!(buf.len(), encoded_len(&p, v));
        let decoded = decode(&mut buf, &limits(Some(v)));
        prop_assert_eq!(decoded, Ok(Some(p)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn does_every_connect_round_trip((v, p) in version().prop_flat_map(|v| (Just(v), connect(v)))) {
        let mut buf = BytesMut::new();
        encode(&p, v, &mut buf).expect("encodable");
        prop_assert_eq!(buf.len(), encoded_len(&p, v));
        prop_assert_eq!(peek_connect_version(&buf), Some(v));
        prop_assert_eq!(decode(&mut buf, &limits(None)), Ok(Some(p)));
    }

    #[test]
    fn is_encode_publish_the_same_as_encode((v, p) in version().prop_flat_map(|v| (Just(v), publish(v)))) {
        let mut fast = BytesMut::new();
        encode_publish(&p, v, &mut fast).expect("encodable");
        prop_assert_eq!(fast.len(), publish_encoded_len(&p, v));
        let mut generic = BytesMut::new();
        encode(&Packet::Publish(p), v, &mut generic).expect("encodable");
        prop_assert_eq!(fast, generic);
    }

    #[test]
    fn does_a_publish_out_with_its_own_expiry_and_ids_encode_like_the_publish_carrying_them(
        (v, p, expiry, ids) in version().prop_flat_map(|v| (
            Just(v),
            publish(v),
            proptest::option::of(any::<u32>()),
            vec(1u32..=268_435_455, 0..3),
        ))
    ) {
        // Fan-out encodes a borrowed view whose expiry and subscription ids replace
        // the message's own; the bytes must be those of the equivalent Publish.
        let mut reference = p.clone();
        reference.properties.message_expiry_interval = expiry;
        reference.properties.subscription_identifiers = ids.iter().copied().collect();
        let mut want = BytesMut::new();
        encode(&Packet::Publish(reference), v, &mut want).expect("encodable");
        let view = PublishOut { message_expiry: expiry, subscription_ids: &ids, ..p.out() };
        prop_assert_eq!(view.encoded_len(v), want.len());
        let mut got = BytesMut::from(&b"kept"[..]);
        prop_assert_eq!(view.encode_within(v, want.len() - 1, &mut got), Ok(false));
        prop_assert_eq!(&got[..], &b"kept"[..]);
        prop_assert_eq!(view.encode_within(v, want.len(), &mut got), Ok(true));
        prop_assert_eq!(&got[4..], &want[..]);
    }

    #[test]
    fn does_a_chunked_stream_decode_to_the_same_packets(
        (v, packets, chunks) in version().prop_flat_map(|v| (Just(v), vec(packet(v), 1..8), vec(1usize..16, 1..64)))
    ) {
        let wire = encode_all(&packets, v);
        let l = limits(Some(v));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        let mut sizes = chunks.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap_or(&1)).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            got.extend(drain(&mut buf, &l).expect("valid stream"));
        }
        prop_assert_eq!(got, packets);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn does_a_split_at_every_position_give_the_same_packets(
        (v, packets) in version().prop_flat_map(|v| (Just(v), vec(packet(v), 1..4)))
    ) {
        let wire = encode_all(&packets, v);
        let l = limits(Some(v));
        for cut in 0..=wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut got = drain(&mut buf, &l).expect("valid prefix");
            buf.extend_from_slice(&wire[cut..]);
            got.extend(drain(&mut buf, &l).expect("valid stream"));
            prop_assert_eq!(&got, &packets, "cut at {}", cut);
        }
    }

    #[test]
    fn do_arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256), max in 0u32..300) {
        for version in [None, Some(ProtocolVersion::V3_1_1), Some(ProtocolVersion::V5)] {
            let l = DecodeLimits { version, max_packet_size: max };
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = drain(&mut buf, &l);
        }
    }

    #[test]
    fn do_mutated_packets_never_panic(
        (v, p) in version().prop_flat_map(|v| (Just(v), packet(v))),
        edits in vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut wire = encode_all(std::slice::from_ref(&p), v);
        for (at, byte) in edits {
            let i = at % wire.len();
            wire[i] = byte;
        }
        let keep = cut % (wire.len() + 1);
        let mut buf = BytesMut::from(&wire[..keep]);
        if let Ok(packets) = drain(&mut buf, &limits(Some(v))) {
            for q in packets {
                let mut again = BytesMut::new();
                if encode(&q, v, &mut again).is_ok() {
                    prop_assert_eq!(again.len(), encoded_len(&q, v));
                }
            }
        }
    }
}
