//! What a load is told about its host. It sits apart from the parser because the
//! checks that run after parsing read it too, and they must not reach back into the
//! parser that calls them.

/// What the host can run, for the unknown-application warning.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Applications the host implements besides the interpreter's own; `None`
    /// means spygroup's default list ([`crate::apps::DEFAULT_APPS`]).
    pub known_apps: Option<Vec<String>>,
}
