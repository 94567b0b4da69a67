//! The HTTP side of spygroup: health, the REST API under `/api/v1` (OpenAPI document
//! at `/openapi.json`, recordings' WAV files included), live events over a WebSocket,
//! and the supervisors' web console at `/console`.
//!
//! Binding and serving are split ([`bind`] then [`Bound::serve`]) so a busy port
//! fails the start with a clear message before anything else is launched.

mod auth;
mod calls;
mod conferences;
mod config;
mod console;
mod error;
mod events;
mod fail;
mod live;
mod recordings;
mod routes;
mod security;
mod server;
mod state;

pub use console::OverTls;
pub use error::ApiError;
pub use live::{
    Answer, BrowserMonitor, ConfRefused, LiveChannel, LiveView, MonitorFailure, MonitorStart,
    Pending, Role, SignedIn, Spying,
};
pub use routes::{openapi, router, router_with};
pub use server::{bind, serve, Bound};
pub use state::{ApiState, HealthFn, MetricsFn, ReloadFn};
