//! Fuzz target: both mobile frame decoders on arbitrary bytes.
//!
//! Neither decoder may panic. A frame that decodes must also re-encode (unless it is `Unknown` or
//! grows past the frame limit) to text that decodes to the same frame; frames with free-form JSON
//! payloads (`event`, `channel_data`) are only required to decode again, since serde_json's
//! default float parsing is not bit-exact on round trips. Audio accessors must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wavekat_platform_client::mobile::{
    decode_client_frame, decode_server_frame, FrameError, ServerFrame,
};

fn encode_is_expected_to_fail(error: &FrameError) -> bool {
    matches!(
        error,
        FrameError::EncodeUnknown { .. } | FrameError::TooLarge { .. }
    )
}

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = decode_client_frame(data) {
        let _ = frame.audio_pcm();
        match frame.encode() {
            Ok(text) => assert_eq!(
                decode_client_frame(text.as_bytes()),
                Ok(frame),
                "client frame changed across encode/decode"
            ),
            Err(error) => assert!(encode_is_expected_to_fail(&error), "{error:?}"),
        }
    }
    if let Ok(frame) = decode_server_frame(data) {
        let _ = frame.audio_pcm();
        match frame.encode() {
            Ok(text) => {
                let again = decode_server_frame(text.as_bytes());
                match frame {
                    ServerFrame::Event { .. } | ServerFrame::ChannelData { .. } => {
                        assert!(again.is_ok(), "{again:?}")
                    }
                    frame => assert_eq!(again, Ok(frame), "server frame changed"),
                }
            }
            Err(error) => assert!(encode_is_expected_to_fail(&error), "{error:?}"),
        }
    }
});
