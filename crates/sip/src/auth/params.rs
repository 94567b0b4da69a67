//! Tokenizer for the `auth-param` list of a digest header
//! (`name=value, name="quoted \"value\""`, RFC 7235 section 2.1).
//!
//! Kept separate from [`super::Credentials`] so the same code can read
//! challenges when we act as a client towards trunks.

use super::AuthError;

/// One `name=value` pair; `name` is lowercased, `value` is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub name: String,
    pub value: String,
}

/// Strips the `Digest` scheme (case-insensitive) and returns the rest.
pub(crate) fn strip_digest_scheme(header_value: &str) -> Result<&str, AuthError> {
    let s = header_value.trim_start();
    let scheme_len = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    let (scheme, rest) = s.split_at(scheme_len);
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest);
    }
    Ok(rest)
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Splits `input` into parameters, in order, duplicates kept (the caller
/// decides what a duplicate means).
///
/// Unquoted values are accepted up to the next comma or whitespace even when
/// they hold characters outside `token` (`uri=sip:100@pbx` from sloppy
/// phones); rejecting those would lock real devices out for no security gain.
pub(crate) fn parse_params(input: &str) -> Result<Vec<Param>, AuthError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    loop {
        // Skip whitespace and empty list elements.
        while let Some(&(_, c)) = chars.peek() {
            if c.is_ascii_whitespace() || c == ',' {
                chars.next();
            } else {
                break;
            }
        }
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if is_tchar(c) {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let name = &input[start..end];
        if name.is_empty() {
            let bad = chars.peek().map(|&(_, c)| c).unwrap_or(' ');
            return Err(AuthError::Syntax(format!(
                "unexpected character `{bad}` where a parameter name was expected"
            )));
        }
        skip_ws(&mut chars);
        match chars.next() {
            Some((_, '=')) => {}
            _ => {
                return Err(AuthError::Syntax(format!(
                    "parameter `{name}` has no `=value`"
                )))
            }
        }
        skip_ws(&mut chars);
        let value = match chars.peek() {
            Some(&(_, '"')) => {
                chars.next();
                read_quoted(&mut chars, name)?
            }
            _ => {
                let mut v = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c == ',' || c.is_ascii_whitespace() || c == '"' {
                        break;
                    }
                    v.push(c);
                    chars.next();
                }
                if v.is_empty() {
                    return Err(AuthError::Syntax(format!(
                        "parameter `{name}` has an empty value"
                    )));
                }
                v
            }
        };
        out.push(Param {
            name: name.to_ascii_lowercase(),
            value,
        });
        skip_ws(&mut chars);
        match chars.next() {
            None => break,
            Some((_, ',')) => {}
            Some((_, c)) => {
                return Err(AuthError::Syntax(format!(
                    "expected `,` after parameter `{name}`, found `{c}`"
                )))
            }
        }
    }
    Ok(out)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn skip_ws(chars: &mut Chars<'_>) {
    while chars.next_if(|&(_, c)| c.is_ascii_whitespace()).is_some() {}
}

/// Reads a quoted-string body after the opening quote, resolving `\x` escapes.
fn read_quoted(chars: &mut Chars<'_>, name: &str) -> Result<String, AuthError> {
    let mut v = String::new();
    loop {
        match chars.next() {
            None => {
                return Err(AuthError::Syntax(format!(
                    "unterminated quoted value for `{name}`"
                )))
            }
            Some((_, '"')) => return Ok(v),
            Some((_, '\\')) => match chars.next() {
                Some((_, c)) => v.push(c),
                None => {
                    return Err(AuthError::Syntax(format!(
                        "unterminated quoted value for `{name}`"
                    )))
                }
            },
            Some((_, c)) => v.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(input: &str) -> Vec<(String, String)> {
        parse_params(input)
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect()
    }

    #[test]
    fn quoted_unquoted_and_whitespace() {
        assert_eq!(
            pairs(" A = \"x, y\" ,b=tok,  c=\"q\\\"uo\\\\te\"\t"),
            vec![
                ("a".into(), "x, y".into()),
                ("b".into(), "tok".into()),
                ("c".into(), "q\"uo\\te".into()),
            ]
        );
    }

    #[test]
    fn empty_elements_are_skipped() {
        assert_eq!(pairs(",,a=1,,"), vec![("a".into(), "1".into())]);
        assert!(pairs("").is_empty());
    }

    #[test]
    fn lenient_unquoted_uri() {
        assert_eq!(
            pairs("uri=sip:100@pbx.example;transport=udp"),
            vec![("uri".into(), "sip:100@pbx.example;transport=udp".into())]
        );
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "a",
            "a=",
            "a=\"open",
            "a=\"esc\\",
            "=x",
            "a=1 b=2",
            "a=\"x\"y",
            "\u{e9}=1",
            "a=1,\"b\"=2",
        ] {
            assert!(
                matches!(parse_params(bad), Err(AuthError::Syntax(_))),
                "{bad:?} should be a syntax error"
            );
        }
    }

    #[test]
    fn scheme() {
        assert_eq!(strip_digest_scheme("  digest a=1"), Ok(" a=1"));
        assert_eq!(strip_digest_scheme("DIGEST"), Ok(""));
        assert_eq!(strip_digest_scheme("Basic abc"), Err(AuthError::NotDigest));
        assert_eq!(strip_digest_scheme(""), Err(AuthError::NotDigest));
        assert_eq!(
            strip_digest_scheme("Digestx a=1"),
            Err(AuthError::NotDigest)
        );
    }
}
