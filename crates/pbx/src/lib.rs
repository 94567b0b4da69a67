//! The switch: registrar, B2BUA calls with anchored media, channel tasks running the
//! dialplan, the applications (`apps`), and the live view of channels and events.
//!
//! A call is two channels (`SIP/101-00000001` towards the caller, `SIP/102-00000002`
//! towards the callee), each its own SIP dialog with its own RTP port on the PBX; the
//! media engine relays audio between them. The switch task owns SIP; each caller's
//! channel task runs its dialplan and asks the switch to answer, dial or hang up.

pub(crate) mod apps;
pub mod chan;
pub mod channel;
pub mod events;
pub mod registrar;
pub mod registry;

mod config;
mod server;
mod switch;

pub use config::PbxConfig;
pub use events::EventBus;
pub use server::{start, Controller, PbxError, PbxHandle, Status};
