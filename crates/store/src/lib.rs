//! The database: the source of truth for spygroup's configuration.
//!
//! One [`Store`] wraps a sqlx `AnyPool` chosen by URL (`sqlite://…` embedded,
//! `postgres://…` for several nodes). Memory elsewhere holds only live calls;
//! everything that must survive a restart (extensions, trunks, spy groups,
//! supervisors and their grants, monitoring rules, API tokens, AstDB families,
//! call records, registrations, the monitoring audit trail) lives here. The
//! schema is documented in `docs/schema.md`.
//!
//! Times are stored as epoch **milliseconds** in BIGINT columns, because the
//! Any driver only carries bool/int/float/text/blob; the Rust API exposes them
//! as [`std::time::SystemTime`].

mod cdr;
mod error;
mod extensions;
mod groups;
mod kv;
mod locations;
mod migrations;
mod monitor;
mod open;
mod rules;
pub mod secrets;
mod settings;
mod supervisors;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod tokens;
mod trunks;
pub mod validate;

pub use cdr::{CallRecord, Disposition};
pub use error::StoreError;
pub use extensions::{Extension, ExtensionUpdate, NewExtension};
pub use groups::SpyGroup;
pub use locations::StoredLocation;
pub use monitor::{MonitorEvent, MonitorRecord, MonitorStart};
pub use open::{redact_url, Store, DEFAULT_REALM};
pub use rules::MonitorRule;
pub use settings::MONITORING_OPEN;
pub use supervisors::{parse_modes, Grant, GroupScope, MonitorMode};
pub use tokens::{ApiToken, TokenScope, TOKEN_PREFIX};
pub use trunks::{NewTrunk, Trunk};
