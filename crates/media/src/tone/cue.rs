//! A source someone else can interrupt with a short sound: a refusal tone or a
//! notice beep heard over what a supervisor is listening to, without stopping the
//! player (stopping it would read as the supervisor hanging up).

use std::sync::{Arc, Mutex};

use super::FrameSource;
use crate::frame::Frame;

type Slot = Arc<Mutex<Option<Box<dyn FrameSource + Send>>>>;

/// The handle that puts a sound in front of an [`Interruptible`] source.
#[derive(Clone, Default)]
pub struct Cue(Slot);

impl Cue {
    /// Plays `sound` instead of the inner source until `sound` ends (replacing a
    /// cue still playing).
    pub fn play(&self, sound: Box<dyn FrameSource + Send>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(sound);
    }
}

/// Plays `inner`, except while a [`Cue`] sound plays. The inner source keeps
/// being read meanwhile, so a live source (a spy link) stays current and ends
/// the whole when it ends.
pub struct Interruptible {
    inner: Box<dyn FrameSource + Send>,
    cue: Cue,
    scratch: Frame,
}

impl Interruptible {
    pub fn new(inner: Box<dyn FrameSource + Send>) -> (Interruptible, Cue) {
        let cue = Cue::default();
        let source = Interruptible {
            inner,
            cue: cue.clone(),
            scratch: Frame::silence(),
        };
        (source, cue)
    }
}

impl FrameSource for Interruptible {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        let more = self.inner.next_frame(out);
        let mut slot = self.cue.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sound) = slot.as_mut() {
            if sound.next_frame(&mut self.scratch) {
                std::mem::swap(out, &mut self.scratch);
            } else {
                *slot = None;
            }
        }
        more
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::{Silence, ToneGenerator, ToneSpec};

    fn energy(f: &Frame) -> u64 {
        f.samples()
            .iter()
            .map(|s| u64::from(s.unsigned_abs()))
            .sum()
    }

    #[test]
    fn a_cue_plays_over_the_inner_source_then_gives_it_back() {
        let (mut src, cue) = Interruptible::new(Box::new(Silence::forever()));
        let mut f = Frame::silence();
        assert!(src.next_frame(&mut f));
        assert_eq!(energy(&f), 0);
        cue.play(Box::new(ToneGenerator::new(ToneSpec::beep())));
        let mut loud = 0;
        for _ in 0..30 {
            assert!(src.next_frame(&mut f));
            if energy(&f) > 0 {
                loud += 1;
            }
        }
        // A 250 ms beep: about 12 frames, then the inner silence again.
        assert!((11..=14).contains(&loud), "{loud} frames of beep");
        assert!(src.next_frame(&mut f));
        assert_eq!(energy(&f), 0);
    }
}
