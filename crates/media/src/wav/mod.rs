//! WAV prompts and recordings: 8 kHz mono 16-bit PCM, the format Asterisk's
//! `sounds/<lang>/*.wav` use. No resampling: any other format is refused with an
//! error naming the file, so a wrong file is found at load time, not heard.

mod moh;
mod prompts;
#[cfg(test)]
mod tests;

pub use moh::{MohClass, MohPlayer};
pub use prompts::Prompts;

use crate::frame::{Frame, SAMPLES_8K};
use crate::tone::FrameSource;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WavError {
    #[error("{path}: cannot read WAV: {source}")]
    Read { path: PathBuf, source: hound::Error },
    #[error("{path}: cannot write WAV: {source}")]
    Write { path: PathBuf, source: hound::Error },
    #[error(
        "{path}: {channels} channel(s), {rate} Hz, {bits}-bit {format}; prompts must be \
         8000 Hz mono 16-bit PCM (convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav)"
    )]
    Format {
        path: PathBuf,
        channels: u16,
        rate: u32,
        bits: u16,
        format: &'static str,
    },
    #[error("prompt '{name}' not found for language '{lang}' (looked for {looked})")]
    Missing {
        name: String,
        lang: String,
        looked: String,
    },
    #[error("'{0}' is not a valid prompt name (letters, digits, - _ / only, no '..')")]
    BadName(String),
    #[error("music on hold class '{class}': no WAV file in {dir}")]
    NoMusic { class: String, dir: PathBuf },
}

/// A prompt loaded in memory (prompts are short); cheap to clone and share
/// between calls.
#[derive(Debug, Clone)]
pub struct Prompt {
    path: Arc<Path>,
    samples: Arc<[i16]>,
}

impl Prompt {
    /// Loads an 8 kHz mono 16-bit PCM WAV file.
    pub fn open(path: &Path) -> Result<Prompt, WavError> {
        let read_err = |source| WavError::Read {
            path: path.to_path_buf(),
            source,
        };
        let reader = hound::WavReader::open(path).map_err(read_err)?;
        let spec = reader.spec();
        if spec.channels != 1
            || spec.sample_rate != 8000
            || spec.bits_per_sample != 16
            || spec.sample_format != hound::SampleFormat::Int
        {
            return Err(WavError::Format {
                path: path.to_path_buf(),
                channels: spec.channels,
                rate: spec.sample_rate,
                bits: spec.bits_per_sample,
                format: match spec.sample_format {
                    hound::SampleFormat::Int => "integer",
                    hound::SampleFormat::Float => "float",
                },
            });
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .map_err(read_err)?;
        Ok(Prompt {
            path: Arc::from(path),
            samples: Arc::from(samples),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 / 8
    }

    /// A player positioned at the start.
    pub fn player(&self) -> PromptPlayer {
        PromptPlayer {
            prompt: self.clone(),
            pos: 0,
        }
    }
}

/// Plays a prompt as 20 ms frames; the last frame is padded with silence.
#[derive(Debug, Clone)]
pub struct PromptPlayer {
    prompt: Prompt,
    pos: usize,
}

impl PromptPlayer {
    /// Milliseconds played so far (what Asterisk reports as the offset when a
    /// digit interrupts `Background`).
    pub fn position_ms(&self) -> u64 {
        self.pos as u64 / 8
    }

    pub fn finished(&self) -> bool {
        self.pos >= self.prompt.samples.len()
    }
}

impl FrameSource for PromptPlayer {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        *out = Frame::silence();
        let rest = self.prompt.samples.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            return false;
        }
        let n = rest.len().min(SAMPLES_8K);
        out.samples_mut()[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        true
    }
}

/// Writes a frame stream to an 8 kHz mono 16-bit WAV file (a hook's tap, a
/// voicemail). Call `finish` to write the header's final lengths; a recorder
/// dropped without it leaves a file whose header most players still accept.
pub struct WavRecorder {
    path: PathBuf,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
}

impl std::fmt::Debug for WavRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavRecorder")
            .field("path", &self.path)
            .finish()
    }
}

impl WavRecorder {
    pub fn create(path: &Path) -> Result<WavRecorder, WavError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(|source| WavError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(WavRecorder {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one frame. Frames of another rate are refused (no resampler).
    pub fn write(&mut self, frame: &Frame) -> Result<(), WavError> {
        if frame.rate() != 8000 {
            return Err(WavError::Format {
                path: self.path.clone(),
                channels: 1,
                rate: frame.rate(),
                bits: 16,
                format: "integer",
            });
        }
        let mut w = self.writer.get_i16_writer(frame.len() as u32);
        for &s in frame.samples() {
            w.write_sample(s);
        }
        w.flush().map_err(|source| WavError::Write {
            path: self.path.clone(),
            source,
        })
    }

    pub fn finish(self) -> Result<(), WavError> {
        let path = self.path;
        self.writer
            .finalize()
            .map_err(|source| WavError::Write { path, source })
    }
}
