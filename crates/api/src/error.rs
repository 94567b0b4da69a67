//! Failures of the HTTP server.

use std::net::SocketAddr;

/// Why the HTTP API could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "cannot listen for HTTP on {addr}: {source}; choose another address \
         (--http or `http` in spygroup.toml) or stop the program using it"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server on {addr} failed: {source}")]
    Serve {
        addr: SocketAddr,
        source: std::io::Error,
    },
}
