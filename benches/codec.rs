//! Codec micro-benchmarks: what one PUBLISH costs to decode on the read path and to
//! encode on the fan-out path, for a 64-byte payload in MQTT 3.1.1 and 5.0.
//!
//! `decode/batch64` decodes 64 back-to-back PUBLISH packets from one read buffer, as a
//! connection does after one `read()`; its throughput is reported per packet.
//! `encode_publish/batch64` appends one message 64 times to one buffer, as fan-out does
//! for one subscriber's pending writes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use meridian::protocol::{
    decode, encode, encode_publish, Bytes, BytesMut, DecodeLimits, MqttStr, Packet, Properties,
    ProtocolVersion, Publish, QoS, Subscribe, SubscriptionOptions,
};

const PAYLOAD: usize = 64;
const BATCH: usize = 64;

fn publish(qos: QoS) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: MqttStr::from("bench/sensors/0042/temperature"),
        packet_id: if qos == QoS::AtMostOnce { 0 } else { 7 },
        payload: Bytes::from(vec![0xA5; PAYLOAD]),
        properties: Properties::default(),
    }
}

fn wire(packet: &Packet, version: ProtocolVersion, copies: usize) -> BytesMut {
    let mut out = BytesMut::new();
    for _ in 0..copies {
        if let Err(e) = encode(packet, version, &mut out) {
            panic!("benchmark packet does not encode: {e}");
        }
    }
    out
}

fn limits(version: ProtocolVersion) -> DecodeLimits {
    DecodeLimits {
        version: Some(version),
        ..DecodeLimits::default()
    }
}

fn versions() -> [(&'static str, ProtocolVersion); 2] {
    [
        ("v3.1.1", ProtocolVersion::V3_1_1),
        ("v5", ProtocolVersion::V5),
    ]
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, version) in versions() {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let packet = Packet::Publish(publish(qos));
            let lim = limits(version);
            let one = wire(&packet, version, 1);
            group.throughput(Throughput::Elements(1));
            group.bench_function(format!("publish_qos{}_{name}", qos as u8), |b| {
                b.iter_batched_ref(
                    || one.clone(),
                    |buf| black_box(decode(buf, &lim)),
                    BatchSize::SmallInput,
                )
            });
        }
        let packet = Packet::Publish(publish(QoS::AtMostOnce));
        let lim = limits(version);
        let many = wire(&packet, version, BATCH);
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(format!("batch64_qos0_{name}"), |b| {
            b.iter_batched_ref(
                || many.clone(),
                |buf| {
                    let mut n = 0usize;
                    while let Ok(Some(p)) = decode(buf, &lim) {
                        black_box(&p);
                        n += 1;
                    }
                    n
                },
                BatchSize::SmallInput,
            )
        });
    }
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: 1,
        properties: Properties::default(),
        filters: vec![(
            MqttStr::from("bench/+/temperature"),
            SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: false,
                retain_as_published: false,
                retain_handling: 0,
            },
        )],
    });
    let lim = limits(ProtocolVersion::V5);
    let one = wire(&subscribe, ProtocolVersion::V5, 1);
    group.throughput(Throughput::Elements(1));
    group.bench_function("subscribe_v5", |b| {
        b.iter_batched_ref(
            || one.clone(),
            |buf| black_box(decode(buf, &lim)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_publish");
    for (name, version) in versions() {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let p = publish(qos);
            let mut out = BytesMut::with_capacity(4096);
            group.throughput(Throughput::Elements(1));
            group.bench_function(format!("qos{}_{name}", qos as u8), |b| {
                b.iter(|| {
                    out.clear();
                    black_box(encode_publish(black_box(&p), version, &mut out)).is_ok()
                })
            });
        }
        let p = publish(QoS::AtMostOnce);
        let mut out = BytesMut::with_capacity(BATCH * 128);
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(format!("batch64_qos0_{name}"), |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..BATCH {
                    if encode_publish(black_box(&p), version, &mut out).is_err() {
                        break;
                    }
                }
                out.len()
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! {
    name = codec;
    config = config();
    targets = bench_decode, bench_encode
}
criterion_main!(codec);
