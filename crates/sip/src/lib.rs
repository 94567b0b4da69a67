//! SIP on the wire for spygroup: a message codec, an I/O-free transaction layer
//! (RFC 3261 section 17 + RFC 6026), identifiers, digest auth and the peer type the
//! transport edge hands to the core.
//!
//! Everything except `transport` is free of I/O and clocks: callers feed bytes and the
//! current `Instant`, and collect what must be sent. That keeps the protocol testable in
//! virtual time.

pub mod auth;
pub mod ids;
pub mod message;
pub mod peer;
pub mod transaction;
pub mod transport;

pub use ids::{new_branch, new_call_id, new_tag};
pub use message::{
    parse_datagram, parse_stream, CSeq, ContactValue, Headers, Message, Method, NameAddr,
    ParseError, Request, Response, StreamItem, Uri, Via,
};
pub use peer::{Peer, Transport};
