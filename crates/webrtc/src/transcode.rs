//! G.711 µ-law (what the PBX's bridges speak) ⇄ Opus (what browsers prefer), for a
//! browser's leg that negotiated Opus: 20 ms frames, mono, 48 kHz on the Opus side.

use media::codec::AudioCodec;

use crate::resample::{Down, Up};

/// Samples of 20 ms at 8 kHz and at 48 kHz.
const FRAME_8K: usize = 160;
const FRAME_48K: usize = 960;

pub struct Transcoder {
    encoder: opus::Encoder,
    decoder: opus::Decoder,
    up: Up,
    down: Down,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transcoder(PCMU <-> Opus)")
    }
}

impl Transcoder {
    pub fn new() -> Result<Transcoder, String> {
        let mut encoder = opus::Encoder::new(48000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| format!("Opus encoder: {e}"))?;
        // Speech from a narrowband source: 32 kbit/s is plenty, with in-band FEC
        // for a browser on a lossy network.
        let _ = encoder.set_bitrate(opus::Bitrate::Bits(32_000));
        let _ = encoder.set_inband_fec(true);
        let decoder = opus::Decoder::new(48000, opus::Channels::Mono)
            .map_err(|e| format!("Opus decoder: {e}"))?;
        Ok(Transcoder {
            encoder,
            decoder,
            up: Up::default(),
            down: Down::default(),
        })
    }

    /// 20 ms of PCMU from the PBX as one Opus packet for the browser.
    pub fn encode(&mut self, pcmu: &[u8]) -> Option<Vec<u8>> {
        let mut pcm = vec![0i16; pcmu.len()];
        AudioCodec::Pcmu.decode_into(pcmu, &mut pcm);
        let mut wide = self.up.run(&pcm);
        wide.resize(FRAME_48K * pcmu.len().div_ceil(FRAME_8K), 0);
        let mut out = vec![0u8; 1500];
        let mut packets = Vec::new();
        for frame in wide.chunks(FRAME_48K) {
            let n = self.encoder.encode(frame, &mut out).ok()?;
            packets.extend_from_slice(&out[..n]);
        }
        // One 20 ms frame in, one packet out (longer frames are not sent by the PBX).
        Some(packets)
    }

    /// An Opus packet from the browser as PCMU for the PBX (20 ms for 20 ms).
    pub fn decode(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        let mut wide = vec![0i16; FRAME_48K * 6]; // up to 120 ms, Opus's longest frame
        let n = self.decoder.decode(packet, &mut wide, false).ok()?;
        let narrow = self.down.run(&wide[..n]);
        let mut out = vec![0u8; narrow.len()];
        AudioCodec::Pcmu.encode_into(&narrow, &mut out);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::level_db;

    #[test]
    fn a_tone_goes_through_opus_and_back_at_its_level() {
        let mut t = Transcoder::new().unwrap();
        let mut back = Vec::new();
        for frame in 0..50 {
            let pcm: Vec<i16> = (0..160)
                .map(|i| {
                    let n = (frame * 160 + i) as f32;
                    (8000.0 * (2.0 * std::f32::consts::PI * 1000.0 * n / 8000.0).sin()) as i16
                })
                .collect();
            let mut pcmu = vec![0u8; 160];
            AudioCodec::Pcmu.encode_into(&pcm, &mut pcmu);
            let opus = t.encode(&pcmu).expect("encoded");
            assert!(!opus.is_empty() && opus.len() < 400, "{} bytes", opus.len());
            let again = t.decode(&opus).expect("decoded");
            assert_eq!(again.len(), 160, "20 ms for 20 ms");
            let mut pcm2 = vec![0i16; 160];
            AudioCodec::Pcmu.decode_into(&again, &mut pcm2);
            back.extend(pcm2);
        }
        let tone = level_db(&back[2400..], 1000.0, 8000.0);
        let other = level_db(&back[2400..], 2500.0, 8000.0);
        assert!(tone > -3.0, "1 kHz after Opus and back: {tone:.1} dB");
        assert!(other < -30.0, "2.5 kHz that was never sent: {other:.1} dB");
    }
}
