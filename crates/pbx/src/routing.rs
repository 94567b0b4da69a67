//! Where a new call goes. The core's rule is fixed (dial an extension by number); the
//! dialplan engine replaces it behind the same question: "this caller, from this
//! context, dialled this: what now?".

/// Who placed a call, as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Extension number or trunk name.
    pub endpoint: String,
    /// The context the endpoint's calls enter (`from-internal`, `from-trunk`, ...).
    pub context: String,
}

/// What to do with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Ring every registered contact of this extension.
    Extension(String),
    /// Nothing answers to that number.
    NotFound,
}

/// The core's fixed rule: the dialled user part, if it is an extension, rings it.
/// Extension existence is checked by the caller against the store.
pub fn fixed_route(_origin: &Origin, dialled: &str) -> Route {
    if dialled.is_empty() {
        Route::NotFound
    } else {
        Route::Extension(dialled.to_string())
    }
}
