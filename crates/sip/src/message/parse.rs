//! Turning bytes into messages: whole UDP datagrams and TCP byte streams.
//!
//! Framing differs by transport: a datagram is one message (Content-Length optional,
//! trailing bytes ignored), a stream needs Content-Length to find the end and may carry
//! CRLF keep-alives between messages (RFC 5626 3.5.1).

use super::error::{truncate, ParseError};
use super::headers::Headers;
use super::method::Method;
use super::request::Request;
use super::response::Response;
use super::uri::Uri;
use super::Message;

/// Largest message accepted, headers plus body.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;
/// Most header lines accepted (before multi-value splitting).
pub const MAX_HEADERS: usize = 200;

/// One item carved off the front of a stream buffer; `parse_stream` returns it with
/// the number of bytes it used.
// Items are consumed right away; boxing the message would cost an allocation per
// message for no benefit.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// CR/LF keep-alive bytes to drop (a `CRLFCRLF` ping wants a `CRLF` pong,
    /// RFC 5626 3.5.1; the byte count tells which one it was).
    KeepAlive,
    /// A complete message.
    Message(Message),
}

/// Parse a whole UDP datagram.
pub fn parse_datagram(data: &[u8]) -> Result<Message, ParseError> {
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge {
            limit: MAX_MESSAGE_SIZE,
        });
    }
    // RFC 3261 7.5: ignore CRLFs before the start line.
    let data = &data[leading_crlf(data)..];
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    let (head_end, body_start) = find_header_end(data).ok_or(ParseError::HeaderLine(
        "header section not terminated by an empty line".into(),
    ))?;
    let (mut msg, content_length) = parse_head(&data[..head_end])?;
    let available = &data[body_start..];
    let body = match content_length {
        Some(declared) if declared > available.len() => {
            return Err(ParseError::TruncatedBody {
                declared,
                available: available.len(),
            })
        }
        Some(declared) => &available[..declared],
        None => available,
    };
    set_body(&mut msg, body.to_vec());
    Ok(msg)
}

/// Parse the front of a stream buffer: `Ok(Some((item, used)))` with the bytes to
/// drain, `Ok(None)` when more bytes are needed. An error means the stream cannot be
/// resynchronised and the connection should be closed.
pub fn parse_stream(data: &[u8]) -> Result<Option<(StreamItem, usize)>, ParseError> {
    let crlf = leading_crlf(data);
    if crlf > 0 {
        return Ok(Some((StreamItem::KeepAlive, crlf)));
    }
    if data.is_empty() {
        return Ok(None);
    }
    let Some((head_end, body_start)) = find_header_end(data) else {
        if data.len() > MAX_MESSAGE_SIZE {
            return Err(ParseError::TooLarge {
                limit: MAX_MESSAGE_SIZE,
            });
        }
        return Ok(None);
    };
    let (mut msg, content_length) = parse_head(&data[..head_end])?;
    let declared = content_length.ok_or(ParseError::MissingContentLength)?;
    let total = body_start.saturating_add(declared);
    if total > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge {
            limit: MAX_MESSAGE_SIZE,
        });
    }
    if data.len() < total {
        return Ok(None);
    }
    set_body(&mut msg, data[body_start..total].to_vec());
    Ok(Some((StreamItem::Message(msg), total)))
}

fn set_body(msg: &mut Message, body: Vec<u8>) {
    match msg {
        Message::Request(r) => r.body = body,
        Message::Response(r) => r.body = body,
    }
}

fn leading_crlf(data: &[u8]) -> usize {
    data.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Find the empty line ending the header section, accepting CRLF or bare LF line
/// ends. Returns (end of the last header line, start of the body).
fn find_header_end(data: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\n' {
            match data.get(i + 1) {
                Some(b'\n') => return Some((i, i + 2)),
                Some(b'\r') if data.get(i + 2) == Some(&b'\n') => return Some((i, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Parse the start line and headers; returns the message (empty body) and the
/// Content-Length, if any.
fn parse_head(head: &[u8]) -> Result<(Message, Option<usize>), ParseError> {
    // Header text is UTF-8 by RFC; phones still send Latin-1 display names, and
    // refusing the whole message for that would be worse than a replaced character.
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().unwrap_or_default();

    // Unfold continuation lines (RFC 3261 7.3.1) into logical header lines.
    let mut logical: Vec<String> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            match logical.last_mut() {
                Some(prev) => {
                    prev.push(' ');
                    prev.push_str(line.trim());
                }
                None => return Err(ParseError::HeaderLine(truncate(line))),
            }
        } else {
            if logical.len() >= MAX_HEADERS {
                return Err(ParseError::TooManyHeaders { limit: MAX_HEADERS });
            }
            logical.push(line.to_string());
        }
    }

    let mut headers = Headers::new();
    for line in &logical {
        let colon = line
            .find(':')
            .ok_or_else(|| ParseError::HeaderLine(truncate(line)))?;
        let name = line[..colon].trim_end();
        if !super::params::is_token(name) {
            return Err(ParseError::HeaderLine(truncate(line)));
        }
        headers.push_parsed(name, line[colon + 1..].trim());
    }

    let content_length = match headers.get("Content-Length") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<usize>()
                .map_err(|_| ParseError::header("Content-Length", v, "not a number"))?,
        ),
    };

    let msg = parse_start_line(start, headers)?;
    Ok((msg, content_length))
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        Ok(())
    } else {
        Err(ParseError::Version(truncate(v)))
    }
}

fn parse_start_line(line: &str, headers: Headers) -> Result<Message, ParseError> {
    let bad = |reason| ParseError::StartLine {
        line: truncate(line),
        reason,
    };
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        let (version, rest) = line
            .split_once([' ', '\t'])
            .ok_or_else(|| bad("status line needs a status code"))?;
        check_version(version)?;
        let rest = rest.trim_start();
        let (code, reason) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("status code must be three digits"));
        }
        let status: u16 = code.parse().map_err(|_| bad("invalid status code"))?;
        if !(100..=699).contains(&status) {
            return Err(bad("status code out of range 100-699"));
        }
        return Ok(Message::Response(Response {
            status,
            reason: reason.trim().to_string(),
            headers,
            body: Vec::new(),
        }));
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("request line must be 'METHOD URI SIP/2.0'"));
    };
    let method: Method = method.parse()?;
    let uri: Uri = uri.parse()?;
    check_version(version)?;
    Ok(Message::Request(Request {
        method,
        uri,
        headers,
        body: Vec::new(),
    }))
}
