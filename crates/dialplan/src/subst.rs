//! `${...}` and `$[...]` substitution.
//!
//! Text is first parsed into a tree (finding each construct's end the way
//! Asterisk does: counting braces or brackets, an unclosed one running to the
//! end of the text with a warning), then evaluated innermost first with an
//! explicit stack, so the future stays simple and `Send` and deep nesting
//! cannot overflow anything. Values are never substituted again.

use crate::env::{lookup, Env};
use crate::expr;
use crate::funcs;
use crate::host::Host;
use crate::numbers::atoi;

/// Constructs nested deeper than this are kept as plain text.
const MAX_NESTING: usize = 32;

/// Longest text (in bytes) one substitution yields (text without any `$` is
/// returned as written), and so the longest value a variable gets from the
/// dialplan: Asterisk substitutes application arguments
/// into a buffer of this size (`EXT_DATA_SIZE`) and cuts what does not fit. Without
/// a bound a short line that doubles a variable (`${SET(A=${A}${A})}` thirty times)
/// would ask for gigabytes.
pub const MAX_SUBSTITUTED: usize = 8192;

#[derive(Debug)]
enum Node {
    Text(String),
    Var(Vec<Node>),
    Expr(Vec<Node>),
}

enum Op {
    Push(String),
    Concat(usize),
    Var,
    Expr,
}

/// Substitutes every `${...}` and `$[...]` in `text`.
pub async fn substitute<H: Host>(env: &mut Env<'_, H>, text: &str) -> String {
    if !text.contains('$') {
        return text.to_string();
    }
    let tree = parse(text, 0, env.notes);
    let mut ops = Vec::new();
    compile(&tree, &mut ops);
    let mut stack: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut regex_budget = expr::MAX_REGEX_OPS;
    for op in ops {
        match op {
            Op::Push(s) => stack.push(s),
            Op::Concat(n) => {
                let at = stack.len().saturating_sub(n);
                let mut joined = String::new();
                for part in stack.drain(at..) {
                    truncated |= push_capped(&mut joined, &part);
                }
                stack.push(joined);
            }
            Op::Var => {
                let name = stack.pop().unwrap_or_default();
                let mut value = eval_var(env, &name).await;
                truncated |= cap(&mut value);
                stack.push(value);
            }
            Op::Expr => {
                let inner = stack.pop().unwrap_or_default();
                let value = match expr::evaluate_within(&inner, &mut regex_budget) {
                    Ok(e) => {
                        env.notes
                            .extend(e.warnings.into_iter().map(|w| format!("$[{inner}]: {w}")));
                        e.value
                    }
                    Err(msg) => {
                        env.notes.push(msg);
                        String::new()
                    }
                };
                let mut value = value;
                truncated |= cap(&mut value);
                stack.push(value);
            }
        }
    }
    if truncated {
        env.notes.push(format!(
            "a substituted value was longer than {MAX_SUBSTITUTED} bytes and was cut there"
        ));
    }
    stack.pop().unwrap_or_default()
}

/// Cuts `s` to at most [`MAX_SUBSTITUTED`] bytes on a character boundary; true
/// when something was cut.
pub(crate) fn cap(s: &mut String) -> bool {
    if s.len() <= MAX_SUBSTITUTED {
        return false;
    }
    let mut end = MAX_SUBSTITUTED;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

/// Appends as much of `part` as fits in [`MAX_SUBSTITUTED`]; true when
/// something was left out.
pub(crate) fn push_capped(out: &mut String, part: &str) -> bool {
    let room = MAX_SUBSTITUTED.saturating_sub(out.len());
    if part.len() <= room {
        out.push_str(part);
        return false;
    }
    let mut end = room;
    while !part.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&part[..end]);
    true
}

fn parse(text: &str, depth: usize, notes: &mut Vec<String>) -> Vec<Node> {
    let chars: Vec<char> = text.chars().collect();
    let mut nodes = Vec::new();
    let mut buf = String::new();
    let mut i = 0;
    while i < chars.len() {
        let opener = match (chars[i], chars.get(i + 1)) {
            ('$', Some('{')) => Some(('{', '}')),
            ('$', Some('[')) => Some(('[', ']')),
            _ => None,
        };
        let Some((open, close)) = opener.filter(|_| depth < MAX_NESTING) else {
            buf.push(chars[i]);
            i += 1;
            continue;
        };
        let start = i + 2;
        let mut level = 1;
        let mut j = start;
        while j < chars.len() {
            if chars[j] == open {
                level += 1;
            } else if chars[j] == close {
                level -= 1;
                if level == 0 {
                    break;
                }
            }
            j += 1;
        }
        if level != 0 {
            notes.push(format!(
                "missing '{close}' after '${open}' (the rest of the text is taken as its contents)"
            ));
        }
        let inner: String = chars[start..j.min(chars.len())].iter().collect();
        if !buf.is_empty() {
            nodes.push(Node::Text(std::mem::take(&mut buf)));
        }
        let children = parse(&inner, depth + 1, notes);
        nodes.push(if open == '{' {
            Node::Var(children)
        } else {
            Node::Expr(children)
        });
        i = j + 1;
    }
    if !buf.is_empty() {
        nodes.push(Node::Text(buf));
    }
    nodes
}

fn compile(nodes: &[Node], ops: &mut Vec<Op>) {
    for n in nodes {
        match n {
            Node::Text(t) => ops.push(Op::Push(t.clone())),
            Node::Var(children) => {
                compile(children, ops);
                ops.push(Op::Var);
            }
            Node::Expr(children) => {
                compile(children, ops);
                ops.push(Op::Expr);
            }
        }
    }
    ops.push(Op::Concat(nodes.len()));
}

/// `NAME`, `NAME:off:len`, `FUNC(args)`, `FUNC(args):off:len`.
async fn eval_var<H: Host>(env: &mut Env<'_, H>, name: &str) -> String {
    let (base, range) = split_range(name);
    let value = match split_function(base) {
        Some((func, args)) => funcs::read(env, func, args).await,
        None => lookup(env.chan, env.globals, env.loc, base).unwrap_or_default(),
    };
    match range {
        Some((offset, length)) => substring(&value, offset, length),
        None => value,
    }
}

/// `FUNC(args)` → (FUNC, args).
pub(crate) fn split_function(s: &str) -> Option<(&str, &str)> {
    let open = s.find('(')?;
    let inner = s[open + 1..].strip_suffix(')')?;
    Some((s[..open].trim(), inner))
}

/// Splits `NAME:off[:len]` at the first `:` outside parentheses.
fn split_range(name: &str) -> (&str, Option<(i64, i64)>) {
    let mut depth = 0usize;
    for (i, c) in name.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                let spec = &name[i + 1..];
                let (off, len) = spec.split_once(':').unwrap_or((spec, ""));
                let length = if len.trim().is_empty() {
                    i64::MAX
                } else {
                    atoi(len)
                };
                return (&name[..i], Some((atoi(off), length)));
            }
            _ => {}
        }
    }
    (name, None)
}

/// Asterisk's `${VAR:offset:length}`: a negative offset counts from the end, a
/// negative length leaves that many characters off the end.
pub fn substring(value: &str, offset: i64, length: i64) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len() as i64;
    let mut start = offset;
    if start < 0 {
        start = (n + start).max(0);
    }
    if start >= n {
        return String::new();
    }
    let end = if length >= 0 {
        start.saturating_add(length).min(n)
    } else {
        (n + length).max(start)
    };
    chars[start as usize..end as usize].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_table() {
        let table: &[(&str, i64, i64, &str)] = &[
            ("*222110", 4, i64::MAX, "110"),
            ("150", 0, 3, "150"),
            ("150", 0, 1, "1"),
            ("150", 1, 1, "5"),
            ("12345", -3, i64::MAX, "345"),
            ("12345", -3, 2, "34"),
            ("12345", 1, -1, "234"),
            ("12345", 0, -2, "123"),
            ("12345", -10, 2, "12"),
            ("12345", 9, 2, ""),
            ("12345", 2, 0, ""),
            ("12345", 3, -4, ""),
            ("", 0, 1, ""),
        ];
        for (v, o, l, want) in table {
            assert_eq!(substring(v, *o, *l), *want, "{v}:{o}:{l}");
        }
        assert_eq!(split_range("EXTEN:4"), ("EXTEN", Some((4, i64::MAX))));
        assert_eq!(split_range("X:-2:1"), ("X", Some((-2, 1))));
        assert_eq!(
            split_range("CALLERID(num):1"),
            ("CALLERID(num)", Some((1, i64::MAX)))
        );
        assert_eq!(split_range("IF(a?b:c)"), ("IF(a?b:c)", None));
        assert_eq!(atoi(" 12ab"), 12);
        assert_eq!(atoi("x"), 0);
    }
}
