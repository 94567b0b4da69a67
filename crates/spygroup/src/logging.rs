//! Log setup: `--log-level` wins over `RUST_LOG`, which wins over the config file.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the stderr logger. `fallback` applies when neither the flag nor
/// `RUST_LOG` chose a filter; an unusable `RUST_LOG` falls back too, with a warning.
pub fn init(flag: Option<&str>, fallback: &str) {
    let (filter, bad_env) = match flag {
        Some(f) => (EnvFilter::new(f), None),
        None => match std::env::var("RUST_LOG") {
            Ok(env) if !env.is_empty() => match EnvFilter::try_new(&env) {
                Ok(f) => (f, None),
                Err(e) => (EnvFilter::new(fallback), Some(format!("{env:?}: {e}"))),
            },
            _ => (EnvFilter::new(fallback), None),
        },
    };
    // sqlx logs every statement at debug, and the configuration's change counter is
    // read 20 times a second: keep those out unless asked for by name.
    let named_sqlx = flag.is_some_and(|f| f.contains("sqlx"))
        || std::env::var("RUST_LOG").is_ok_and(|v| v.contains("sqlx"));
    let filter = if named_sqlx {
        filter
    } else {
        filter.add_directive("sqlx::query=warn".parse().expect("a literal directive"))
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    if let Some(why) = bad_env {
        tracing::warn!("ignoring RUST_LOG {why}");
    }
}
