//! Diagnostics: every finding about a dialplan names the file and line it came
//! from, because the person reading it has to go and fix that line.

use std::fmt;
use std::path::PathBuf;

/// Where a line of dialplan came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// How bad a finding is: errors stop a load, warnings are reported and tolerated
/// (Asterisk loads such a dialplan too, and fails only the calls that reach the bad line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding, printed as `FILE:LINE: warning|error: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub origin: Origin,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn warning(origin: &Origin, message: impl Into<String>) -> Self {
        Diagnostic {
            origin: origin.clone(),
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    pub fn error(origin: &Origin, message: impl Into<String>) -> Self {
        Diagnostic {
            origin: origin.clone(),
            severity: Severity::Error,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.origin, self.severity, self.message)
    }
}

/// A load that cannot produce a usable dialplan. `diagnostics` holds every error
/// (and the warnings found before giving up), so a `check` can print them all.
#[derive(Debug, thiserror::Error)]
#[error("{}", summary(.diagnostics))]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
}

fn summary(diags: &[Diagnostic]) -> String {
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    match errors.len() {
        0 => "dialplan failed to load".to_string(),
        1 => errors[0].clone(),
        n => format!("{} (and {} more errors)", errors[0], n - 1),
    }
}
