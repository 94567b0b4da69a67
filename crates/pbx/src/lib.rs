//! The switch: registrar, B2BUA calls with anchored media, channel tasks running the
//! dialplan, the applications (`apps`), and the live view of channels and events.
//!
//! A call is two channels (`SIP/101-00000001` towards the caller, `SIP/102-00000002`
//! towards the callee), each its own SIP dialog with its own RTP port on the PBX; the
//! media engine relays audio between them. The switch (`switch`) is an I/O-free
//! state machine; its shell (`shell`) does the I/O; each caller's channel task runs
//! its dialplan and asks the switch to answer, dial or hang up.

pub mod apps;
pub mod chan;
pub mod channel;
pub mod conference;
pub mod events;
pub mod lockouts;
pub mod metrics;
pub mod moh;
pub mod monitor;
pub mod permit;
pub mod pinguard;
pub mod queue;
pub mod registrar;
pub mod registry;
pub mod switch;

mod config;
mod plan;
mod server;
mod shell;

pub use conference::{ConfError, Conferences};
pub use config::{PbxConfig, TlsListener};
pub use events::{Event, EventBus};
pub use monitor::{ModeReply, MonitorCmd, MonitorError, MonitorId, Monitors};
pub use plan::LoadedPlan;
pub use server::{
    start, Controller, MetricsSource, PbxError, PbxHandle, SharedStats, Status, TlsControl,
};
