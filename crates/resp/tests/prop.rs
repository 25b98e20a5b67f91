//! Property tests: every strict prefix of a valid frame or request is incomplete (`Ok(None)`),
//! and whole ones decode back to what was encoded.
#![allow(clippy::unwrap_used)] // helpers of tests, where unwrap is the team rule

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use resp::{encode_request, Frame, FrameDecoder, ProtocolVersion, RequestDecoder};

fn text() -> impl Strategy<Value = Bytes> {
    "[a-zA-Z0-9 ]{0,12}".prop_map(Bytes::from)
}

fn blob() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        text().prop_map(Frame::Simple),
        text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        blob().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        any::<bool>().prop_map(Frame::Boolean),
        any::<f64>().prop_map(Frame::Double),
        "-?[1-9][0-9]{0,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        blob().prop_map(|data| Frame::Verbatim {
            format: *b"txt",
            data
        }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attrs, f)| Frame::Attribute {
                attrs,
                frame: Box::new(f)
            }),
        ]
    })
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::Resp2), Just(ProtocolVersion::Resp3)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frame_prefixes_are_incomplete(f in frame(), v in version()) {
        let wire = f.to_bytes(v);
        let mut dec = FrameDecoder::default();
        for cut in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            prop_assert_eq!(dec.decode(&mut buf), Ok(None), "prefix of {} bytes", cut);
            prop_assert_eq!(buf.len(), cut);
        }
        let mut buf = BytesMut::from(&wire[..]);
        let back = dec.decode(&mut buf).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(back.to_bytes(v), wire);
    }

    #[test]
    fn request_prefixes_are_incomplete(args in proptest::collection::vec(blob(), 1..6)) {
        let mut wire = BytesMut::new();
        encode_request(&mut wire, &args);
        for cut in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            prop_assert_eq!(RequestDecoder::default().decode(&mut buf), Ok(None));
        }
        let mut buf = wire.clone();
        prop_assert_eq!(RequestDecoder::default().decode(&mut buf), Ok(Some(args)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn pipelines_decode_in_any_read_sizes(
        reqs in proptest::collection::vec(proptest::collection::vec(blob(), 1..4), 1..5),
        cuts in proptest::collection::vec(1usize..16, 1..64),
    ) {
        let mut wire = BytesMut::new();
        for args in &reqs {
            encode_request(&mut wire, args);
        }
        let mut dec = RequestDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut pos = 0;
        for cut in cuts.iter().cycle() {
            if pos >= wire.len() {
                break;
            }
            let end = (pos + cut).min(wire.len());
            buf.extend_from_slice(&wire[pos..end]);
            pos = end;
            while let Some(args) = dec.decode(&mut buf).unwrap() {
                got.push(args);
            }
        }
        prop_assert_eq!(got, reqs);
    }

    #[test]
    fn fuzz_check_holds_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        resp::fuzz_check(&data);
    }

    #[test]
    fn fuzz_check_holds_on_encoded_frames(f in frame(), v in version()) {
        resp::fuzz_check(&f.to_bytes(v));
    }
}
