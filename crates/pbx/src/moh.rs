//! Music-on-hold classes, as Asterisk's `musiconhold.conf` `files` mode has them:
//! class `NAME` is the folder `<sounds>/moh/NAME/`, its WAV files played in name
//! order. `default` ships with spygroup. A class is loaded once, on first use, and
//! shared by every call that plays it; an unknown class falls back to `default`,
//! as Asterisk does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use media::tone::FrameSource;
use media::wav::MohClass;

/// The class a channel gets when its dialplan sets none.
pub const DEFAULT_CLASS: &str = "default";

pub struct MusicLibrary {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, MohClass>>,
}

impl MusicLibrary {
    /// Classes under `<sounds>/moh`.
    pub fn new(sounds: &std::path::Path) -> MusicLibrary {
        MusicLibrary {
            dir: sounds.join("moh"),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// A player of `class` (or of `default` if that class has no music); None,
    /// logged, when not even `default` can be played.
    pub fn player(&self, class: &str) -> Option<Box<dyn FrameSource + Send>> {
        let class = if valid(class) { class } else { DEFAULT_CLASS };
        match self.class(class) {
            Some(c) => Some(Box::new(c.player())),
            None if class != DEFAULT_CLASS => {
                tracing::warn!(%class, "no such music-on-hold class; playing {DEFAULT_CLASS}");
                self.class(DEFAULT_CLASS).map(|c| Box::new(c.player()) as _)
            }
            None => None,
        }
    }

    fn class(&self, name: &str) -> Option<MohClass> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = loaded.get(name) {
            return Some(c.clone());
        }
        match MohClass::load(name, &self.dir.join(name)) {
            Ok(c) => {
                loaded.insert(name.to_string(), c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::error!("music on hold: {e}");
                None
            }
        }
    }
}

/// A class name is one plain folder name (it comes from the dialplan).
fn valid(class: &str) -> bool {
    !class.is_empty()
        && class.len() <= 80
        && class
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}
