//! The schema migrations, compiled into the binary.
//!
//! Built by hand instead of with `sqlx::migrate!` because the workspace builds sqlx
//! without its macros; embedding the SQL keeps a shipped binary independent of the
//! source tree. Versions are never edited once released: sqlx checks checksums.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

/// Every migration, oldest first.
pub(crate) fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../migrations/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "monitoring".into(),
            MigrationType::Simple,
            include_str!("../migrations/0002_monitoring.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "spy_groups".into(),
            MigrationType::Simple,
            include_str!("../migrations/0003_spy_groups.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "takeover".into(),
            MigrationType::Simple,
            include_str!("../migrations/0004_takeover.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            "recordings".into(),
            MigrationType::Simple,
            include_str!("../migrations/0005_recordings.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            6,
            "conference".into(),
            MigrationType::Simple,
            include_str!("../migrations/0006_conference.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            7,
            "lockouts".into(),
            MigrationType::Simple,
            include_str!("../migrations/0007_lockouts.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            8,
            "transport_security".into(),
            MigrationType::Simple,
            include_str!("../migrations/0008_transport_security.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            9,
            "queues".into(),
            MigrationType::Simple,
            include_str!("../migrations/0009_queues.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            10,
            "supervisor_queues".into(),
            MigrationType::Simple,
            include_str!("../migrations/0010_supervisor_queues.sql").into_sql_str(),
            false,
        ),
    ])
}
