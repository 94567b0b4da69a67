//! The HTTP side of spygroup: health today; REST, WebSocket events and the web
//! console will hang off the same router.
//!
//! Binding and serving are split ([`bind`] then [`Bound::serve`]) so a busy port
//! fails the start with a clear message before anything else is launched.

mod error;
mod routes;
mod server;

pub use error::ApiError;
pub use routes::{router, router_with, ApiState, HealthFn, ReloadFn};
pub use server::{bind, serve, Bound};
