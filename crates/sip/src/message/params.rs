//! Lexical helpers shared by the header parsers: tokens, quoted strings, top-level
//! splitting (commas and semicolons inside quotes or `<...>` do not count) and
//! `;name=value` parameter lists.

use std::fmt;

/// A generic parameter list as found on URIs, name-addrs and Via: names keep their
/// spelling, values are kept verbatim (quotes included) so they re-serialise exactly.
pub type Params = Vec<(String, Option<String>)>;

/// RFC 3261 25.1 `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Split `s` at every `sep` that is outside a quoted string and outside `<...>`.
pub fn split_top_level(s: &str, sep: u8) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut angle = false;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            if b == b'\\' {
                i += 1; // skip the escaped byte
            } else if b == b'"' {
                in_quotes = false;
            }
        } else if b == b'"' {
            in_quotes = true;
        } else if b == b'<' {
            angle = true;
        } else if b == b'>' {
            angle = false;
        } else if b == sep && !angle {
            out.push(&s[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// Position of the first `ch` outside quoted strings.
pub fn find_unquoted(s: &str, ch: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut in_quotes = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                in_quotes = false;
            }
        } else if b == b'"' {
            in_quotes = true;
        } else if b == ch {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Parse `;a=b;c` (leading `;` optional). Whitespace around names, `=` and values is
/// tolerated (RFC 3261 allows LWS around SEMI and EQUAL in headers). Returns a
/// static reason on error.
pub fn parse_params(s: &str) -> Result<Params, &'static str> {
    let s = s.trim();
    let s = s.strip_prefix(';').unwrap_or(s);
    let mut out = Vec::new();
    if s.trim().is_empty() {
        return Ok(out);
    }
    for seg in split_top_level(s, b';') {
        let seg = seg.trim();
        if seg.is_empty() {
            return Err("empty parameter");
        }
        let (name, value) = match seg.find('=') {
            Some(eq) => (seg[..eq].trim(), Some(seg[eq + 1..].trim())),
            None => (seg, None),
        };
        if !is_param_name(name) {
            return Err("invalid parameter name");
        }
        if let Some(v) = value {
            if v.is_empty() {
                return Err("empty parameter value");
            }
            if v.starts_with('"') && !is_quoted_string(v) {
                return Err("unterminated quoted parameter value");
            }
        }
        out.push((name.to_string(), value.map(str::to_string)));
    }
    Ok(out)
}

/// URI parameter names may contain a few more characters than tokens (`[]/:&+$`).
fn is_param_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| is_token_byte(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'$'))
}

/// True if `s` is exactly one complete quoted string.
pub fn is_quoted_string(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b'"' {
        return false;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i == b.len() - 1,
            _ => i += 1,
        }
    }
    false
}

/// Case-insensitive parameter lookup: `None` absent, `Some(None)` flag, `Some(Some(v))`.
pub fn get_param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

/// Replace the first parameter of that name (keeping its position) or append it.
pub fn set_param(params: &mut Params, name: &str, value: Option<&str>) {
    let value = value.map(str::to_string);
    match params
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(slot) => slot.1 = value,
        None => params.push((name.to_string(), value)),
    }
}

pub fn remove_param(params: &mut Params, name: &str) {
    params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

pub fn write_params(f: &mut fmt::Formatter<'_>, params: &Params) -> fmt::Result {
    for (name, value) in params {
        match value {
            Some(v) => write!(f, ";{name}={v}")?,
            None => write!(f, ";{name}")?,
        }
    }
    Ok(())
}

/// Remove surrounding quotes and backslash escapes; unquoted input is returned trimmed.
pub fn unquote(s: &str) -> String {
    let s = s.trim();
    if !is_quoted_string(s) {
        return s.to_string();
    }
    let inner = &s[1..s.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quote `s` as a quoted-string, escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_respects_quotes_and_angles() {
        let parts = split_top_level(r#""A, \"x\"" <sip:a@h;p=1,2>, sip:b@h"#, b',');
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].trim(), "sip:b@h");
    }

    #[test]
    fn params_parse_with_whitespace_and_quotes() {
        let p = parse_params(" ; tag = abc ; lr ; q=\"a;b\"").unwrap();
        assert_eq!(
            p,
            vec![
                ("tag".into(), Some("abc".into())),
                ("lr".into(), None),
                ("q".into(), Some("\"a;b\"".into()))
            ]
        );
        assert_eq!(get_param(&p, "TAG"), Some(Some("abc")));
        assert_eq!(get_param(&p, "lr"), Some(None));
        assert_eq!(get_param(&p, "x"), None);
        assert!(parse_params(";a=").is_err());
        assert!(parse_params(";a=\"open").is_err());
        assert!(parse_params(";;").is_err());
    }

    #[test]
    fn quoting_round_trip() {
        let q = quote(r#"Bob "the" \ builder"#);
        assert!(is_quoted_string(&q));
        assert_eq!(unquote(&q), r#"Bob "the" \ builder"#);
        assert!(!is_quoted_string("\"abc"));
        assert!(!is_quoted_string("\"a\"b\""));
    }
}
