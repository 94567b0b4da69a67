//! The state every handler reaches, and the hooks the running server plugs into it.
//!
//! It lives apart from the router so that the router depends on the handlers and the
//! handlers on this module, never back.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::live::LiveView;

/// Supplies the live part of `/health` (e.g. registration and call counts).
pub type HealthFn = Arc<dyn Fn() -> Value + Send + Sync>;

/// Reloads the dialplan: Ok(warnings) or the errors that kept the old one.
pub type ReloadFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send>> + Send + Sync>;

/// Renders the Prometheus text of this moment.
pub type MetricsFn = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// What the handlers reach.
#[derive(Clone)]
pub struct ApiState {
    pub health: HealthFn,
    pub reload: Option<ReloadFn>,
    /// The database; without it every token is refused (`503`).
    pub store: Option<store::Store>,
    /// The running switch's live calls and events.
    pub live: Option<Arc<dyn LiveView>>,
    /// The folder MixMonitor and ChanSpy record to: recordings' stored paths are
    /// relative to it. Without it downloads and deletes answer `503`.
    pub recordings: Option<PathBuf>,
    /// `GET /metrics`; without it the route answers `503`.
    pub metrics: Option<MetricsFn>,
    /// The web console's signed-in browsers.
    pub sessions: crate::console::Sessions,
}

impl ApiState {
    /// Health only: no reload, no database, no switch.
    pub fn new(health: HealthFn) -> ApiState {
        ApiState {
            health,
            reload: None,
            store: None,
            live: None,
            recordings: None,
            metrics: None,
            sessions: Default::default(),
        }
    }
}
