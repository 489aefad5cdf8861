//! The parser-free `audio_chunk` path against the strict general decoder: for every input,
//! the same frame or the same error, from bytes and from text.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{
    audio_chunk_pcm_into, audio_chunk_span, encode_audio_chunk, plain_ascii_len, AUDIO_CHUNK_HEAD,
};
use crate::mobile::error::FrameError;
use crate::mobile::frames::decode::decode_client_frame_general;
use crate::mobile::frames::wire::encode_wire;
use crate::mobile::frames::{decode_client_frame, decode_client_frame_text, ClientFrame};
use crate::mobile::{MAX_AUDIO_CHUNK_BYTES, MAX_FRAME_BYTES};

/// What the strict path alone says: the size check, then the JSON-tree decoder.
fn strict(wire: &[u8]) -> Result<ClientFrame, FrameError> {
    if wire.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: wire.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    decode_client_frame_general(wire)
}

/// Asserts both public decoders agree with the strict path; returns whether the parser-free
/// path took the frame.
fn agrees(wire: &[u8]) -> bool {
    let expected = strict(wire);
    assert_eq!(decode_client_frame(wire), expected, "bytes: {wire:?}");
    if let Ok(text) = std::str::from_utf8(wire) {
        assert_eq!(decode_client_frame_text(text), expected, "text: {text:?}");
    }
    audio_chunk_span(wire).is_some()
}

fn frame(data: &[u8]) -> Vec<u8> {
    [AUDIO_CHUNK_HEAD.as_bytes(), data, br#""}"#].concat()
}

fn b64(len: usize) -> Vec<u8> {
    let pcm: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect();
    STANDARD.encode(pcm).into_bytes()
}

#[test]
fn audio_chunks_encode_byte_for_byte_as_the_serializer_writes_them() {
    let serialized =
        |frame: &ClientFrame| -> Result<String, FrameError> { encode_wire(&frame.wire()?) };
    for len in (0..200).chain([MAX_AUDIO_CHUNK_BYTES - 1, MAX_AUDIO_CHUNK_BYTES]) {
        let pcm: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(131) >> 2) as u8).collect();
        let frame = ClientFrame::audio_chunk_from_pcm(&pcm).expect("fits");
        let expected = serialized(&frame);
        assert_eq!(frame.encode(), expected, "{len}");
        assert_eq!(encode_audio_chunk(&pcm), expected, "{len}");
    }
    // Data that needs escaping (not base64) still encodes through the serializer.
    for data in ["a\"b", "tab\there", "\u{7f}", "é", "back\\slash", ""] {
        let frame = ClientFrame::AudioChunk { data: data.into() };
        assert_eq!(frame.encode(), serialized(&frame), "{data:?}");
    }
    assert!(matches!(
        encode_audio_chunk(&vec![0; MAX_AUDIO_CHUNK_BYTES + 1]),
        Err(FrameError::AudioTooLarge { .. })
    ));
    let huge = ClientFrame::AudioChunk {
        data: "A".repeat(MAX_FRAME_BYTES),
    };
    assert_eq!(huge.encode(), serialized(&huge));
    assert!(matches!(huge.encode(), Err(FrameError::TooLarge { .. })));
}

#[test]
fn audio_straight_to_pcm_gives_what_decoding_the_frame_then_its_pcm_gives() {
    let mut pcm = vec![9u8; 3];
    let mut cases: Vec<Vec<u8>> = (0..40).map(|len| frame(&b64(len * 7))).collect();
    cases.push(frame(b"not base64!"));
    cases.push(frame(b"AAA"));
    cases.push(frame(
        &STANDARD
            .encode(vec![0u8; MAX_AUDIO_CHUNK_BYTES + 1])
            .into_bytes(),
    ));
    cases.push(frame(
        &STANDARD
            .encode(vec![1u8; MAX_AUDIO_CHUNK_BYTES])
            .into_bytes(),
    ));
    // Shorter chunks into the buffer a longer one left.
    cases.extend((0..5).rev().map(|len| frame(&b64(len * 7))));
    for wire in cases {
        let expected = decode_client_frame(&wire).and_then(|f| match f.audio_pcm() {
            Some(pcm) => pcm,
            None => Ok(Vec::new()),
        });
        let got = audio_chunk_pcm_into(&wire, &mut pcm).expect("canonical form");
        assert_eq!(got.map(|()| pcm.clone()), expected);
    }
    // Not the canonical form: left to the full decoder.
    for wire in [
        &br#"{"data":"AAAA","type":"audio_chunk"}"#[..],
        br#"{"type":"audio_chunk", "data":"AAAA"}"#,
        br#"{"type":"audio_chunk","data":"AA\/A"}"#,
        br#"{"type":"audio_stream_end"}"#,
    ] {
        assert!(audio_chunk_pcm_into(wire, &mut pcm).is_none(), "{wire:?}");
    }
}

#[test]
fn canonical_frames_of_every_length_take_the_plain_path_and_decode_the_same() {
    for len in 0..300 {
        let data = b64(len);
        assert!(agrees(&frame(&data)), "{len}");
        // The same text without padding: still a plain string (base64 fails later).
        let trimmed = data.strip_suffix(b"=").unwrap_or(&data);
        assert!(agrees(&frame(trimmed)), "{len}");
    }
}

#[test]
fn trailing_json_whitespace_is_taken_and_anything_else_after_the_object_is_refused() {
    let data = b64(96);
    for tail in [&b" "[..], b"\n", b"\r\n", b"\t \t", b"    \n"] {
        assert!(
            agrees(&[frame(&data).as_slice(), tail].concat()),
            "{tail:?}"
        );
    }
    for tail in [
        &b"x"[..],
        b"}",
        b" }",
        b",",
        b"\x00",
        b"\x0c",
        b"\xff",
        b" \xc3",
    ] {
        let wire = [frame(&data).as_slice(), tail].concat();
        assert!(!agrees(&wire), "{tail:?}");
        assert!(
            matches!(decode_client_frame(&wire), Err(FrameError::NotJson { .. })),
            "{tail:?}"
        );
    }
}

#[test]
fn a_stop_byte_at_any_position_in_data_leaves_the_frame_to_the_strict_path() {
    // `"` ends the string early, `\` starts an escape (here `\q`, invalid, or `\/`, valid),
    // controls are refused by JSON, DEL is allowed, non-ASCII must be valid UTF-8.
    let stops: [&[u8]; 12] = [
        b"\"",
        b"\\q",
        b"\\/",
        b"\\u0041",
        b"\\\\",
        b"\x00",
        b"\t",
        b"\x1f",
        b"\x80",
        b"\xff",
        b"\xc3\xa9",
        b"\xed\xa0\x80",
    ];
    let data = b64(150);
    for stop in stops {
        for at in 0..=data.len() {
            let (head, tail) = data.split_at(at);
            let wire = frame(&[head, stop, tail].concat());
            assert!(!agrees(&wire), "{stop:?} at {at}");
        }
    }
    for at in [0, 63, 64, 65, 128, data.len()] {
        let (head, tail) = data.split_at(at);
        assert!(
            agrees(&frame(&[head, b"\x7f", tail].concat())),
            "DEL at {at}"
        );
    }
}

#[test]
fn escaped_data_decodes_to_the_unescaped_string() {
    let wire = frame(br"AA\/A");
    assert!(!agrees(&wire));
    assert_eq!(
        decode_client_frame(&wire),
        Ok(ClientFrame::AudioChunk {
            data: "AA/A".into()
        })
    );
}

#[test]
fn truncated_frames_are_refused_as_the_strict_path_refuses_them() {
    let whole = frame(&b64(200));
    for len in 0..whole.len() {
        let wire = whole.get(..len).unwrap_or_default();
        assert!(!agrees(wire), "{len}");
        assert!(decode_client_frame(wire).is_err(), "{len}");
    }
}

#[test]
fn other_shapes_of_the_frame_go_to_the_parsing_paths_with_the_same_result() {
    for wire in [
        &br#"{"type":"audio_chunk","data":"AAAA","data":"AAAA"}"#[..],
        br#"{"type":"audio_chunk","data":"AAAA","type":"audio_chunk"}"#,
        br#"{"type":"audio_chunk","type":"audio_chunk","data":"AAAA"}"#,
        br#"{"data":"AAAA","type":"audio_chunk"}"#,
        br#"{"type":"audio_chunk","data":"AAAA","seq":7}"#,
        br#"{"type":"audio_chunk","data":"AA","x":"}"#,
        br#"{"type":"audio_chunk","data":"AA"},"x":1}"#,
        br#" {"type":"audio_chunk","data":"AAAA"}"#,
        br#"{ "type":"audio_chunk","data":"AAAA"}"#,
        br#"{"type":"audio_chunk","data":"AAAA" }"#,
        br#"{"type":"audio_chunk", "data":"AAAA"}"#,
        br#"{"type":"audio_chunk","data":7}"#,
        br#"{"type":"audio_chunk","data":null}"#,
        br#"{"type":"audio_chunk"}"#,
        br#"{"type":"audio_chunk","Data":"AAAA"}"#,
        br#"{"type":"audio_chunkx","data":"AAAA"}"#,
        br#"{"type":"audio_chunk","data":"AAAA"}{"type":"audio_chunk","data":"AAAA"}"#,
        br#"{"type":"audio_stream_start","sample_rate":16000}"#,
        b"{\"type\":\"audio_chunk\",\"data\":\"AA\xffAA\"}",
        b"\xef\xbb\xbf{\"type\":\"audio_chunk\",\"data\":\"AAAA\"}",
    ] {
        assert!(!agrees(wire), "{wire:?}");
    }
}

#[test]
fn audio_limits_hold_on_the_plain_path() {
    // Exactly MAX_AUDIO_CHUNK_BYTES decodes; one more byte is refused before allocating.
    let at_limit = frame(&b64(MAX_AUDIO_CHUNK_BYTES));
    assert!(agrees(&at_limit));
    assert!(decode_client_frame(&at_limit).is_ok());
    let over = frame(&b64(MAX_AUDIO_CHUNK_BYTES + 1));
    assert!(agrees(&over));
    assert!(matches!(
        decode_client_frame(&over),
        Err(FrameError::AudioTooLarge { field: "data", .. })
    ));
    // A frame over MAX_FRAME_BYTES is refused unscanned, whatever its shape.
    let huge = frame(&vec![b'A'; MAX_FRAME_BYTES]);
    assert!(agrees(&huge));
    assert!(matches!(
        decode_client_frame(&huge),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn the_block_scan_finds_the_first_stop_as_a_byte_by_byte_search_does() {
    let mut bytes = b64(400);
    let naive = |bytes: &[u8]| {
        bytes
            .iter()
            .position(|&b| !(0x20..0x80).contains(&b) || b == b'"' || b == b'\\')
            .unwrap_or(bytes.len())
    };
    assert_eq!(plain_ascii_len(&bytes), naive(&bytes));
    for at in (0..bytes.len()).rev().step_by(7) {
        for stop in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
            let mut probe = bytes.clone();
            if let Some(b) = probe.get_mut(at) {
                *b = stop;
            }
            assert_eq!(plain_ascii_len(&probe), naive(&probe), "{stop} at {at}");
        }
    }
    for b in 0..=u8::MAX {
        bytes.clear();
        bytes.push(b);
        assert_eq!(plain_ascii_len(&bytes), naive(&bytes), "{b}");
    }
}
