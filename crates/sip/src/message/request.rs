//! SIP requests and the checks a UAS applies before processing one (RFC 3261 8.2).

use super::accessors::{self, header_accessors};
use super::cseq::CSeq;
use super::error::ParseError;
use super::headers::Headers;
use super::method::Method;
use super::name_addr::{ContactValue, NameAddr};
use super::uri::Uri;
use super::via::Via;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: Method, uri: Uri) -> Self {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    header_accessors!();

    /// Max-Forwards; `Ok(None)` when absent.
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        accessors::number(&self.headers, "Max-Forwards")
    }

    /// Check what every request must carry (RFC 3261 8.1.1): Via, From, To, Call-ID
    /// and CSeq present and parsable, the CSeq method equal to the request method, and
    /// a numeric Max-Forwards if present. The error text is fit for a 400 reason.
    pub fn validate(&self) -> Result<(), ParseError> {
        if self.vias()?.is_empty() {
            return Err(ParseError::MissingHeader("Via"));
        }
        self.from()?;
        self.to()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        if cseq.method != self.method {
            return Err(ParseError::CSeqMethodMismatch {
                cseq: cseq.method.to_string(),
                method: self.method.to_string(),
            });
        }
        self.max_forwards()?;
        self.expires()?;
        self.contacts()?;
        Ok(())
    }

    /// Serialise with a Content-Length that matches the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} SIP/2.0", self.method, self.uri);
        super::write_message(&start, &self.headers, &self.body)
    }
}
