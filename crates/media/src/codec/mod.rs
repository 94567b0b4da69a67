//! Audio codecs of the decode -> mix -> encode path: G.711 mu-law and A-law,
//! selected by RTP payload type, and transcoding between them.

pub mod g711;
#[cfg(test)]
mod tests;

use crate::frame::{Frame, SAMPLES_8K};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("RTP payload type {0} is not an audio codec we decode (only 0 PCMU and 8 PCMA)")]
    UnsupportedPayloadType(u8),
    #[error("payload of {got} bytes where a 20 ms frame needs {want}")]
    WrongLength { got: usize, want: usize },
    #[error("frame at {0} Hz cannot be encoded with an 8 kHz codec")]
    WrongRate(u32),
}

/// An audio codec we can decode and encode. Keyed by its static RTP payload type,
/// which is how a packet names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 mu-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
}

impl AudioCodec {
    pub fn from_payload_type(pt: u8) -> Result<AudioCodec, CodecError> {
        match pt {
            0 => Ok(AudioCodec::Pcmu),
            8 => Ok(AudioCodec::Pcma),
            other => Err(CodecError::UnsupportedPayloadType(other)),
        }
    }

    pub fn payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0,
            AudioCodec::Pcma => 8,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }

    pub fn clock_rate(self) -> u32 {
        8000
    }

    /// Encoded bytes of one 20 ms frame.
    pub fn frame_bytes(self) -> usize {
        SAMPLES_8K
    }

    /// The code for digital silence, used to pad short payloads.
    pub fn silence_code(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0xFF,
            AudioCodec::Pcma => 0xD5,
        }
    }

    /// Decodes as many samples as both slices allow; returns how many.
    pub fn decode_into(self, payload: &[u8], out: &mut [i16]) -> usize {
        let n = payload.len().min(out.len());
        // One loop per law (not a function pointer per sample), so each inlines to
        // a plain table look-up.
        let pairs = out[..n].iter_mut().zip(&payload[..n]);
        match self {
            AudioCodec::Pcmu => pairs.for_each(|(o, &c)| *o = g711::ulaw_decode(c)),
            AudioCodec::Pcma => pairs.for_each(|(o, &c)| *o = g711::alaw_decode(c)),
        }
        n
    }

    /// Encodes as many samples as both slices allow; returns how many bytes.
    pub fn encode_into(self, samples: &[i16], out: &mut [u8]) -> usize {
        let n = samples.len().min(out.len());
        let pairs = out[..n].iter_mut().zip(&samples[..n]);
        match self {
            AudioCodec::Pcmu => pairs.for_each(|(o, &s)| *o = g711::ulaw_encode(s)),
            AudioCodec::Pcma => pairs.for_each(|(o, &s)| *o = g711::alaw_encode(s)),
        }
        n
    }

    /// Decodes exactly one 20 ms payload into `out` (an 8 kHz frame).
    pub fn decode_frame(self, payload: &[u8], out: &mut Frame) -> Result<(), CodecError> {
        if payload.len() != SAMPLES_8K {
            return Err(CodecError::WrongLength {
                got: payload.len(),
                want: SAMPLES_8K,
            });
        }
        *out = Frame::silence();
        self.decode_into(payload, out.samples_mut());
        Ok(())
    }

    /// Encodes one 8 kHz frame into a 160-byte payload.
    pub fn encode_frame(self, frame: &Frame, out: &mut [u8; SAMPLES_8K]) -> Result<(), CodecError> {
        if frame.rate() != 8000 {
            return Err(CodecError::WrongRate(frame.rate()));
        }
        self.encode_into(frame.samples(), out);
        Ok(())
    }
}

/// Rewrites a G.711 payload from one law to the other in place, with one table
/// look-up per byte (no trip through linear PCM). Used when the two legs of a call
/// negotiated different codecs.
pub fn transcode_in_place(from: AudioCodec, to: AudioCodec, payload: &mut [u8]) {
    let map: fn(u8) -> u8 = match (from, to) {
        (AudioCodec::Pcmu, AudioCodec::Pcma) => g711::ulaw_to_alaw,
        (AudioCodec::Pcma, AudioCodec::Pcmu) => g711::alaw_to_ulaw,
        _ => return,
    };
    for b in payload {
        *b = map(*b);
    }
}
