//! The binary message framing of the Session Manager data channel (one WebSocket binary frame
//! per message), as AWS's session-manager-plugin and SSM agent exchange it.
//!
//! Layout, all integers big-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | header length (116: the bytes before the payload-length field) |
//! | 4 | 32 | message type, UTF-8, padded with spaces |
//! | 36 | 4 | schema version |
//! | 40 | 8 | created date, Unix milliseconds |
//! | 48 | 8 | sequence number (signed) |
//! | 56 | 8 | flags (bit 0 SYN, bit 1 FIN) |
//! | 64 | 16 | message id: a UUID with its two 8-byte halves swapped (low half first) |
//! | 80 | 32 | SHA-256 of the payload |
//! | 112 | 4 | payload type |
//! | 116 | 4 | payload length |
//! | 120 | n | payload |

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// Bytes before the payload-length field; what a sender writes as header length.
pub const HEADER_LEN: usize = 116;
/// Header plus the payload-length field: where the payload starts.
pub const PREFIX_LEN: usize = HEADER_LEN + 4;
const TYPE_LEN: usize = 32;

pub const INPUT_STREAM_DATA: &str = "input_stream_data";
pub const OUTPUT_STREAM_DATA: &str = "output_stream_data";
pub const ACKNOWLEDGE: &str = "acknowledge";
pub const CHANNEL_CLOSED: &str = "channel_closed";
pub const START_PUBLICATION: &str = "start_publication";
pub const PAUSE_PUBLICATION: &str = "pause_publication";

/// Payload types of stream messages.
pub mod payload {
    pub const OUTPUT: u32 = 1;
    pub const ERROR: u32 = 2;
    pub const SIZE: u32 = 3;
    pub const PARAMETER: u32 = 4;
    pub const HANDSHAKE_REQUEST: u32 = 5;
    pub const HANDSHAKE_RESPONSE: u32 = 6;
    pub const HANDSHAKE_COMPLETE: u32 = 7;
    pub const ENC_CHALLENGE_REQUEST: u32 = 8;
    pub const ENC_CHALLENGE_RESPONSE: u32 = 9;
    pub const FLAG: u32 = 10;
    pub const STDERR: u32 = 11;
    pub const EXIT_CODE: u32 = 12;
}

/// Values of a `FLAG` payload (a big-endian u32).
pub mod flag {
    pub const DISCONNECT_TO_PORT: u32 = 1;
    pub const TERMINATE_SESSION: u32 = 2;
    pub const CONNECT_TO_PORT_ERROR: u32 = 3;
}

/// Flags bits of the header.
pub const FLAG_SYN: u64 = 1;
pub const FLAG_FIN: u64 = 2;

/// One data-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub message_type: String,
    pub schema_version: u32,
    pub created_ms: u64,
    pub sequence: i64,
    pub flags: u64,
    pub id: Uuid,
    pub payload_type: u32,
    pub payload: Vec<u8>,
}

/// Why a received frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("data-channel message of {0} bytes is shorter than its {PREFIX_LEN}-byte header")]
    Short(usize),
    #[error("data-channel message declares header length {0}, below the minimum {HEADER_LEN}")]
    HeaderLength(u32),
    #[error("data-channel message declares a {declared}-byte payload but carries {actual} bytes")]
    PayloadLength { declared: u32, actual: usize },
    #[error("data-channel message payload does not match its SHA-256 digest")]
    Digest,
    #[error("data-channel message type is not UTF-8")]
    Type,
}

impl Message {
    /// A stream message (`input_stream_data` from a client) carrying `payload`.
    pub fn stream(message_type: &str, sequence: i64, payload_type: u32, payload: Vec<u8>) -> Self {
        Message {
            message_type: message_type.to_string(),
            schema_version: 1,
            created_ms: now_ms(),
            sequence,
            flags: 0,
            id: Uuid::new_v4(),
            payload_type,
            payload,
        }
    }

    /// The acknowledgement of `acked` (sequence 0, flags SYN|FIN, as the plugin sends them).
    pub fn ack_for(acked: &Message) -> Self {
        let body = AckContent {
            message_type: acked.message_type.clone(),
            message_id: acked.id.hyphenated().to_string(),
            sequence: acked.sequence,
            is_sequential: true,
        };
        Message {
            message_type: ACKNOWLEDGE.to_string(),
            schema_version: 1,
            created_ms: now_ms(),
            sequence: 0,
            flags: FLAG_SYN | FLAG_FIN,
            id: Uuid::new_v4(),
            payload_type: 0,
            payload: serde_json::to_vec(&body).expect("ack content serialises"),
        }
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREFIX_LEN + self.payload.len());
        out.extend_from_slice(&(HEADER_LEN as u32).to_be_bytes());
        let mut ty = [b' '; TYPE_LEN];
        let n = self.message_type.len().min(TYPE_LEN);
        ty[..n].copy_from_slice(&self.message_type.as_bytes()[..n]);
        out.extend_from_slice(&ty);
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend_from_slice(&uuid_to_wire(&self.id));
        out.extend_from_slice(&Sha256::digest(&self.payload));
        out.extend_from_slice(&self.payload_type.to_be_bytes());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Parses and checks one received frame: lengths, and the digest of a non-empty payload.
    pub fn decode(buf: &[u8]) -> Result<Message, FrameError> {
        if buf.len() < PREFIX_LEN {
            return Err(FrameError::Short(buf.len()));
        }
        let hl = u32_at(buf, 0);
        if (hl as usize) < HEADER_LEN {
            return Err(FrameError::HeaderLength(hl));
        }
        let hl = hl as usize;
        if buf.len() < hl + 4 {
            return Err(FrameError::Short(buf.len()));
        }
        let declared = u32_at(buf, hl);
        let payload = &buf[hl + 4..];
        if payload.len() != declared as usize {
            return Err(FrameError::PayloadLength {
                declared,
                actual: payload.len(),
            });
        }
        let ty = std::str::from_utf8(&buf[4..4 + TYPE_LEN]).map_err(|_| FrameError::Type)?;
        let message_type = ty.trim_matches(|c| c == ' ' || c == '\0').to_string();
        if !payload.is_empty() && Sha256::digest(payload).as_slice() != &buf[80..112] {
            return Err(FrameError::Digest);
        }
        Ok(Message {
            message_type,
            schema_version: u32_at(buf, 36),
            created_ms: u64_at(buf, 40),
            sequence: u64_at(buf, 48) as i64,
            flags: u64_at(buf, 56),
            id: uuid_from_wire(&buf[64..80]),
            payload_type: u32_at(buf, 112),
            payload: payload.to_vec(),
        })
    }
}

/// The payload of an `acknowledge` message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AckContent {
    #[serde(rename = "AcknowledgedMessageType")]
    pub message_type: String,
    #[serde(rename = "AcknowledgedMessageId")]
    pub message_id: String,
    #[serde(rename = "AcknowledgedMessageSequenceNumber")]
    pub sequence: i64,
    #[serde(rename = "IsSequentialMessage")]
    pub is_sequential: bool,
}

/// The payload of a `channel_closed` message (only the fields rpack reads).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ChannelClosed {
    #[serde(rename = "SessionId", default)]
    pub session_id: String,
    #[serde(rename = "Output", default)]
    pub output: String,
}

/// The first (text) frame a client sends after the WebSocket opens.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OpenDataChannel {
    #[serde(rename = "MessageSchemaVersion")]
    pub schema_version: String,
    #[serde(rename = "RequestId")]
    pub request_id: String,
    #[serde(rename = "TokenValue")]
    pub token: String,
    #[serde(rename = "ClientId")]
    pub client_id: String,
    #[serde(rename = "ClientVersion")]
    pub client_version: String,
}

fn uuid_to_wire(id: &Uuid) -> [u8; 16] {
    let b = id.as_bytes();
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&b[8..]);
    out[8..].copy_from_slice(&b[..8]);
    out
}

fn uuid_from_wire(w: &[u8]) -> Uuid {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&w[8..16]);
    b[8..].copy_from_slice(&w[..8]);
    Uuid::from_bytes(b)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame written out by hand from the documented layout, independent of `encode`.
    fn handmade() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&[0, 0, 0, 116]);
        v.extend_from_slice(b"input_stream_data               ");
        v.extend_from_slice(&[0, 0, 0, 1]);
        v.extend_from_slice(&[0, 0, 0x01, 0x8c, 0x5a, 0x3c, 0x2e, 0x00]); // created ms
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]); // sequence 7
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // flags
                                                        // UUID 00112233-4455-6677-8899-aabbccddeeff, low half first.
        v.extend_from_slice(&[0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        v.extend_from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
        // SHA-256("abc")
        v.extend_from_slice(
            &hex::decode("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .unwrap(),
        );
        v.extend_from_slice(&[0, 0, 0, 1]); // payload type Output
        v.extend_from_slice(&[0, 0, 0, 3]);
        v.extend_from_slice(b"abc");
        v
    }

    fn handmade_message() -> Message {
        Message {
            message_type: INPUT_STREAM_DATA.into(),
            schema_version: 1,
            created_ms: 0x018c_5a3c_2e00,
            sequence: 7,
            flags: 0,
            id: Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap(),
            payload_type: payload::OUTPUT,
            payload: b"abc".to_vec(),
        }
    }

    #[test]
    fn encodes_the_documented_layout_byte_for_byte() {
        let bytes = handmade();
        assert_eq!(bytes.len(), 123);
        assert_eq!(handmade_message().encode(), bytes);
    }

    #[test]
    fn decodes_the_documented_layout() {
        assert_eq!(Message::decode(&handmade()).unwrap(), handmade_message());
    }

    #[test]
    fn a_corrupted_payload_fails_the_digest_check() {
        let mut b = handmade();
        *b.last_mut().unwrap() = b'x';
        assert_eq!(Message::decode(&b), Err(FrameError::Digest));
        let mut b = handmade();
        b[90] ^= 1; // inside the digest
        assert_eq!(Message::decode(&b), Err(FrameError::Digest));
    }

    #[test]
    fn length_errors_are_reported_not_panicked() {
        let b = handmade();
        assert_eq!(Message::decode(&b[..50]), Err(FrameError::Short(50)));
        assert_eq!(
            Message::decode(&b[..122]),
            Err(FrameError::PayloadLength {
                declared: 3,
                actual: 2
            })
        );
        let mut b2 = b.clone();
        b2[3] = 10;
        assert_eq!(Message::decode(&b2), Err(FrameError::HeaderLength(10)));
        let mut b3 = b.clone();
        b3[3] = 200; // header length past the end
        assert_eq!(Message::decode(&b3), Err(FrameError::Short(123)));
    }

    #[test]
    fn an_empty_payload_skips_the_digest_like_the_plugin() {
        // The agent's start/pause_publication messages carry no payload; the digest is not checked.
        let mut m = handmade_message();
        m.message_type = START_PUBLICATION.into();
        m.payload.clear();
        let mut b = m.encode();
        b[80..112].fill(0);
        let d = Message::decode(&b).unwrap();
        assert_eq!(d.message_type, START_PUBLICATION);
        assert!(d.payload.is_empty());
    }

    #[test]
    fn acks_name_the_acknowledged_message_as_the_plugin_does() {
        let m = handmade_message();
        let ack = Message::ack_for(&m);
        assert_eq!(ack.message_type, ACKNOWLEDGE);
        assert_eq!(ack.sequence, 0);
        assert_eq!(ack.flags, 3);
        assert_eq!(
            String::from_utf8(ack.payload.clone()).unwrap(),
            r#"{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageId":"00112233-4455-6677-8899-aabbccddeeff","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}"#
        );
        let back = Message::decode(&ack.encode()).unwrap();
        let content: AckContent = serde_json::from_slice(&back.payload).unwrap();
        assert_eq!(content.sequence, 7);
    }

    #[test]
    fn message_type_padding_is_trimmed_and_nul_padding_accepted() {
        let mut b = handmade();
        for x in &mut b[4 + 17..36] {
            *x = 0;
        }
        assert_eq!(Message::decode(&b).unwrap().message_type, INPUT_STREAM_DATA);
    }
}
