//! The database: the source of truth for spygroup's configuration.
//!
//! One [`Store`] wraps a sqlx `AnyPool` chosen by URL (`sqlite://…` embedded,
//! `postgres://…` for several nodes). Memory elsewhere holds only live calls;
//! everything that must survive a restart (extensions, trunks, spy groups,
//! supervisors and their grants, monitoring rules, API tokens, AstDB families,
//! call records, registrations, the monitoring audit trail, recordings' metadata)
//! lives here. The
//! schema is documented in `docs/schema.md`.
//!
//! The PBX's call path does not query the [`Store`]: it reads a
//! [`ConfigSnapshot`] kept current by [`LiveConfig`] (LISTEN/NOTIFY on
//! PostgreSQL, a trigger-bumped change counter on SQLite) and hands its writes to
//! a [`WriteBehind`] queue, so a slow or absent database delays no call.
//!
//! Times are stored as epoch **milliseconds** in BIGINT columns, because the
//! Any driver only carries bool/int/float/text/blob; the Rust API exposes them
//! as [`std::time::SystemTime`].

mod agents;
mod builder;
mod cdr;
mod error;
mod extensions;
mod groups;
mod health;
mod kv;
mod live;
mod load;
mod locations;
mod lockouts;
mod migrations;
mod monitor;
mod notify;
mod open;
mod overlay;
pub mod pins;
mod queues;
mod recording_files;
mod recording_query;
mod recordings;
mod refresh;
mod rules;
pub mod secrets;
mod settings;
mod snapshot;
mod supervisors;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod tokens;
mod transient;
mod trunks;
pub mod validate;
mod write;
mod write_behind;

pub use builder::ConfigBuilder;
pub use cdr::{CallRecord, Disposition, TakenOver};
pub use error::StoreError;
pub use extensions::{Extension, ExtensionUpdate, NewExtension};
pub use groups::{GroupNotice, Notice, SpyGroup};
pub use health::StoreHealth;
pub use live::LiveConfig;
pub use locations::StoredLocation;
pub use lockouts::LockoutRecord;
pub use monitor::{MonitorEvent, MonitorRecord, MonitorStart};
pub use open::{redact_url, sqlite_file, Store, DEFAULT_REALM};
pub use queues::{check_queue, queue_stats_of};
pub use recording_files::{track_file, DeletedFiles};
pub use recording_query::{RecordingDetail, RecordingFilter};
pub use recordings::{
    new_recording_id, NewTrack, Recording, RecordingEnd, RecordingKind, RecordingStart,
    RecordingTrack, Track, TrackEnd,
};
pub use refresh::LiveOptions;
pub use rules::MonitorRule;
pub use settings::MONITORING_OPEN;
pub use snapshot::ConfigSnapshot;
pub use supervisors::{parse_modes, Grant, GroupScope, SpyMode};
pub use tokens::{ApiToken, TokenScope, TOKEN_PREFIX};
pub use trunks::{NewTrunk, Trunk};
pub use write::Write;
pub use write_behind::{WriteBehind, DEFAULT_QUEUE_BOUND};
