//! Benchmarks of RESP hot paths: decoding a pipeline of `SET` requests, encoding replies.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use resp::{encode_request, Encoder, Frame, FrameDecoder, ProtocolVersion, RequestDecoder};

const PIPELINE: usize = 1000;

fn pipeline() -> BytesMut {
    let mut wire = BytesMut::new();
    for i in 0..PIPELINE {
        let key = format!("key:{i:06}");
        encode_request(&mut wire, &[b"SET".as_slice(), key.as_bytes(), &[b'v'; 64]]);
    }
    wire
}

fn decode_requests(c: &mut Criterion) {
    let wire = pipeline();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("set_pipeline_1000", |b| {
        b.iter(|| {
            let mut buf = wire.clone();
            let mut dec = RequestDecoder::default();
            let mut n = 0;
            while let Ok(Some(args)) = dec.decode(&mut buf) {
                n += args.len();
            }
            black_box(n)
        });
    });
    let mut inline = BytesMut::new();
    for i in 0..PIPELINE {
        inline.extend_from_slice(format!("SET key:{i:06} \"some value\"\r\n").as_bytes());
    }
    group.bench_function("inline_set_1000", |b| {
        b.iter(|| {
            let mut buf = inline.clone();
            let mut dec = RequestDecoder::default();
            while let Ok(Some(args)) = dec.decode(&mut buf) {
                black_box(args);
            }
        });
    });
    let mut replies = BytesMut::new();
    let frame = Frame::Array(
        (0..100)
            .map(|i| Frame::bulk(format!("member:{i}")))
            .collect(),
    );
    for _ in 0..10 {
        frame.encode(ProtocolVersion::Resp3, &mut replies);
    }
    group.bench_function("reply_arrays_10x100", |b| {
        b.iter(|| {
            let mut buf = replies.clone();
            let mut dec = FrameDecoder::default();
            while let Ok(Some(f)) = dec.decode(&mut buf) {
                black_box(f);
            }
        });
    });
    group.finish();
}

fn encode_replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(PIPELINE as u64));
    let mut out = BytesMut::with_capacity(64 * 1024);
    group.bench_function("ok_int_bulk_1000", |b| {
        let e = Encoder::new(ProtocolVersion::Resp2);
        b.iter(|| {
            out.clear();
            for i in 0..PIPELINE as i64 {
                e.simple(&mut out, b"OK");
                e.integer(&mut out, i);
                e.bulk(&mut out, b"some value");
            }
            black_box(out.len())
        });
    });
    let map = Frame::Map(
        (0..PIPELINE)
            .map(|i| (Frame::bulk(format!("f{i}")), Frame::Double(i as f64 + 0.5)))
            .collect(),
    );
    for version in [ProtocolVersion::Resp2, ProtocolVersion::Resp3] {
        group.bench_function(format!("map_of_doubles_{version:?}"), |b| {
            b.iter(|| {
                out.clear();
                map.encode(version, &mut out);
                black_box(out.len())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode_requests, encode_replies);
criterion_main!(benches);
