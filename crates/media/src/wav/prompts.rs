//! Finding prompts by Asterisk sound name: `sounds/<lang>/<name>.wav`, where a
//! name may have folders (`digits/5`).

use super::{Prompt, WavError};
use std::path::{Path, PathBuf};

/// The sound directory of the PBX (the folder that holds `en/`, `fr/` ...).
#[derive(Debug, Clone)]
pub struct Prompts {
    root: PathBuf,
}

impl Prompts {
    pub fn new(root: impl Into<PathBuf>) -> Prompts {
        Prompts { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Names come from the dialplan: only plain relative paths are accepted, so
    /// `Playback(../../etc/passwd)` cannot reach outside the sound directory.
    fn check(name: &str) -> Result<(), WavError> {
        let ok = !name.is_empty()
            && !name.starts_with('/')
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part != ".."
                    && part != "."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if ok {
            Ok(())
        } else {
            Err(WavError::BadName(name.to_string()))
        }
    }

    /// The file for `name` in `lang`, falling back to English as Asterisk does
    /// when a language lacks a sound.
    pub fn path(&self, lang: &str, name: &str) -> Result<PathBuf, WavError> {
        Self::check(name)?;
        let mut langs = vec![lang];
        if lang != "en" {
            langs.push("en");
        }
        let mut looked = Vec::new();
        for l in langs {
            if Self::check(l).is_err() {
                continue;
            }
            let p = self.root.join(l).join(format!("{name}.wav"));
            if p.is_file() {
                return Ok(p);
            }
            looked.push(p.display().to_string());
        }
        Err(WavError::Missing {
            name: name.to_string(),
            lang: lang.to_string(),
            looked: looked.join(", "),
        })
    }

    pub fn open(&self, lang: &str, name: &str) -> Result<Prompt, WavError> {
        Prompt::open(&self.path(lang, name)?)
    }
}
