//! Music on hold, as Asterisk's `files` mode plays it: a class is a folder of
//! 8 kHz WAV files (`<sounds>/moh/<class>/*.wav`), played in name order, round and
//! round, for as long as the party is held.

use std::path::Path;
use std::sync::Arc;

use super::{Prompt, PromptPlayer, WavError};
use crate::frame::Frame;
use crate::tone::FrameSource;

/// One music-on-hold class, loaded in memory (shared by every call that plays it).
#[derive(Debug, Clone)]
pub struct MohClass {
    name: Arc<str>,
    tracks: Arc<[Prompt]>,
}

impl MohClass {
    /// Loads every `*.wav` of `dir`, sorted by name. A folder without one is an
    /// error (a class that would play silence is a mistake worth hearing about).
    pub fn load(name: &str, dir: &Path) -> Result<MohClass, WavError> {
        let missing = || WavError::NoMusic {
            class: name.to_string(),
            dir: dir.to_path_buf(),
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|_| missing())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
            .collect();
        paths.sort();
        let tracks = paths
            .iter()
            .map(|p| Prompt::open(p))
            .collect::<Result<Vec<_>, _>>()?;
        if tracks.iter().all(|t| t.samples().is_empty()) {
            return Err(missing());
        }
        Ok(MohClass {
            name: Arc::from(name),
            tracks: Arc::from(tracks),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A player from the first track; it never ends.
    pub fn player(&self) -> MohPlayer {
        MohPlayer {
            class: self.clone(),
            track: 0,
            current: self.tracks[0].player(),
        }
    }
}

/// Plays a class's tracks one after the other, forever.
pub struct MohPlayer {
    class: MohClass,
    track: usize,
    current: PromptPlayer,
}

impl FrameSource for MohPlayer {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        // At most one pass over the tracks: `load` refused a class of empty ones.
        for _ in 0..=self.class.tracks.len() {
            if self.current.next_frame(out) {
                return true;
            }
            self.track = (self.track + 1) % self.class.tracks.len();
            self.current = self.class.tracks[self.track].player();
        }
        *out = Frame::silence();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn tracks_play_in_name_order_and_loop() {
        let dir = tempfile::tempdir().unwrap();
        // 30 ms of 2s, then 20 ms of 1s: "a" plays first by name.
        write(&dir.path().join("b.wav"), &[2; 240]);
        write(&dir.path().join("a.wav"), &[1; 160]);
        std::fs::write(dir.path().join("notes.txt"), "not music").unwrap();
        let class = MohClass::load("test", dir.path()).unwrap();
        let mut p = class.player();
        let mut f = Frame::silence();
        let mut firsts = Vec::new();
        for _ in 0..6 {
            assert!(p.next_frame(&mut f), "music on hold never ends");
            firsts.push(f.samples()[0]);
        }
        // a (1 frame), b (2 frames, the second padded), a, b, b
        assert_eq!(firsts, [1, 2, 2, 1, 2, 2]);
    }

    #[test]
    fn a_class_without_music_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(MohClass::load("none", dir.path()).is_err());
        assert!(MohClass::load("gone", &dir.path().join("nope")).is_err());
    }
}
