//! The database: the source of truth for spygroup's configuration.
//!
//! One [`Store`] wraps a sqlx `AnyPool` chosen by URL (`sqlite://…` embedded,
//! `postgres://…` for several nodes). Memory elsewhere holds only live calls;
//! everything that must survive a restart (extensions, trunks, AstDB families,
//! call records, registrations) lives here.
//!
//! Times are stored as epoch **milliseconds** in BIGINT columns, because the
//! Any driver only carries bool/int/float/text/blob; the Rust API exposes them
//! as [`std::time::SystemTime`].

mod cdr;
mod error;
mod extensions;
mod kv;
mod locations;
mod migrations;
mod monitor;
mod open;
pub mod secrets;
mod time;
mod trunks;
pub mod validate;

pub use cdr::{CallRecord, Disposition};
pub use error::StoreError;
pub use extensions::{Extension, ExtensionUpdate, NewExtension};
pub use locations::StoredLocation;
pub use monitor::{MonitorEvent, MonitorRecord, MonitorStart};
pub use open::{redact_url, Store, DEFAULT_REALM};
pub use trunks::{NewTrunk, Trunk};
