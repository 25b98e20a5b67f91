//! The checks the fuzz target and the corpus replay test share.

use bytes::{Bytes, BytesMut};

use crate::{encode_request, Error, Frame, FrameDecoder, Limits, ProtocolVersion, RequestDecoder};

/// Small limits so the checks also exercise the limit paths on small inputs.
fn fuzz_limits() -> Limits {
    Limits {
        bulk_len_max: 4096,
        multibulk_len_max: 64,
        depth_max: 8,
        inline_len_max: 256,
    }
}

/// Feeds arbitrary bytes to both decoders and checks their invariants; panics on a violation.
///
/// * Neither decoder panics.
/// * The request decoder gives the same requests and the same final error whether the input
///   arrives at once or one byte at a time, and every decoded request, re-encoded as a
///   multibulk, decodes to the same arguments.
/// * Every decoded reply frame, encoded for either protocol version, decodes again, and that
///   frame encodes to the same bytes (encoding is a fixed point after one round).
/// * The frame decoder gives the same result whether the input arrives at once or in two
///   pieces.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let limits = fuzz_limits();
    let whole = requests(limits, &[data]);
    let pieces: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(
        whole,
        requests(limits, &pieces),
        "request decoding depends on read sizes"
    );
    for args in &whole.0 {
        let mut buf = BytesMut::new();
        encode_request(&mut buf, args);
        let mut dec = RequestDecoder::new(Limits::default());
        assert_eq!(dec.decode(&mut buf), Ok(Some(args.clone())));
        assert!(buf.is_empty());
    }

    let frames = replies(limits, &[data]);
    let split = data.len() / 2;
    assert_eq!(
        format!("{frames:?}"),
        format!("{:?}", replies(limits, &[&data[..split], &data[split..]])),
        "reply decoding depends on read sizes"
    );
    for frame in &frames.0 {
        for version in [ProtocolVersion::Resp2, ProtocolVersion::Resp3] {
            let once = frame.to_bytes(version);
            let mut buf = BytesMut::from(&once[..]);
            let again = FrameDecoder::new(Limits::default()).decode(&mut buf);
            let Ok(Some(again)) = again else {
                panic!("{version:?} encoding of {frame:?} does not decode: {again:?}");
            };
            assert!(buf.is_empty());
            assert_eq!(again.to_bytes(version), once, "{version:?}: {frame:?}");
        }
    }
}

/// Decodes every request from `chunks` fed one after the other; the requests and the error
/// that stopped decoding, if any.
fn requests(limits: Limits, chunks: &[&[u8]]) -> (Vec<Vec<Bytes>>, Option<Error>) {
    let mut dec = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(args)) => out.push(args),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

/// Decodes every reply frame from `chunks` fed one after the other.
fn replies(limits: Limits, chunks: &[&[u8]]) -> (Vec<Frame>, Option<Error>) {
    let mut dec = FrameDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(frame)) => out.push(frame),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}
