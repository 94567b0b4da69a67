//! Exit codes: 2 for what the user typed or wrote wrong, 1 for what went wrong at run time.

use std::fmt;
use std::process::ExitCode;

/// A mistake in arguments or the config file; exits 2 like clap's own errors.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A lookup that found nothing (`db get`, `db del`): exit 1, message only on stderr.
#[derive(Debug)]
pub struct Missing(pub String);

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Missing {}

/// Exit code for an error: 2 when input was at fault anywhere in the chain, else 1.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    let usage = err.chain().any(|cause| {
        cause.is::<Usage>()
            || cause
                .downcast_ref::<store::StoreError>()
                .is_some_and(store::StoreError::is_invalid_input)
    });
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}
