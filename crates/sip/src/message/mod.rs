//! The SIP message codec (RFC 3261 7, 19, 20, 25): typed values for the headers the
//! PBX reasons about, an ordered raw header list for everything else, and parsers for
//! datagram and stream framing.

mod accessors;
mod cseq;
mod error;
mod headers;
mod method;
mod name_addr;
pub mod params;
mod parse;
mod request;
mod response;
mod uri;
mod via;

#[cfg(test)]
mod tests;

pub use cseq::CSeq;
pub use error::ParseError;
pub use headers::{canonical_name, Headers};
pub use method::Method;
pub use name_addr::{ContactValue, NameAddr};
pub use params::Params;
pub use parse::{parse_datagram, parse_stream, StreamItem, MAX_HEADERS, MAX_MESSAGE_SIZE};
pub use request::Request;
pub use response::Response;
pub use uri::Uri;
pub use via::Via;

/// A parsed SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

/// Serialise start line, headers and body. Content-Length is always rewritten to the
/// real body length (first occurrence kept in place, extras dropped, appended if
/// absent), and CR/LF inside values are blanked so a value can never break framing.
fn write_message(start: &str, headers: &Headers, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(start.len() + 64 * headers.len() + body.len() + 32);
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut wrote_length = false;
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("Content-Length") {
            if !wrote_length {
                out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
                wrote_length = true;
            }
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend(
            value
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        out.extend_from_slice(b"\r\n");
    }
    if !wrote_length {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
