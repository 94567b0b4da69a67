//! Application arguments: splitting them as Asterisk does, finding unbalanced
//! `${`, `$[` and `(`, and reading Goto-style targets.

/// Splits arguments at `delim` outside parentheses and double quotes, removing
/// the quotes and the backslash of `\x` (Asterisk's `ast_app_separate_args`).
/// An empty string has no arguments.
pub fn separate(s: &str, delim: char) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                cur.push(c);
            }
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                cur.push(c);
            }
            c if c == delim && !quoted && depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Splits at `delim` outside parentheses only, keeping quotes and backslashes
/// (Asterisk's raw argument parsing, used by Gosub).
pub fn separate_raw(s: &str, delim: char) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if c == delim && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// Unbalanced `${`, `$[` and `(` in unsubstituted text, each as a message with
/// the 1-based column of the culprit.
pub fn balance(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut stack: Vec<(char, usize, &'static str)> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match (c, next) {
            ('\\', _) => i += 1,
            ('$', Some('{')) => {
                stack.push(('}', i + 1, "${"));
                i += 1;
            }
            ('$', Some('[')) => {
                stack.push((']', i + 1, "$["));
                i += 1;
            }
            ('(', _) => stack.push((')', i + 1, "(")),
            // A plain '[' (a regex class inside `$[...]`) owns the next ']';
            // left open it is just text, so it is never reported.
            ('[', _) => stack.push((']', i + 1, "[")),
            (')' | '}' | ']', _) => {
                if c != ']' {
                    while stack.last().is_some_and(|(_, _, o)| *o == "[") {
                        stack.pop();
                    }
                }
                match stack.last() {
                    Some((want, _, _)) if *want == c => {
                        stack.pop();
                    }
                    Some((_, col, open)) if c == ')' || stack.iter().any(|(w, _, _)| *w == c) => {
                        out.push(format!(
                        "'{c}' at column {} closes nothing: '{open}' at column {col} is still open",
                        i + 1
                    ));
                        // Resynchronise on the opener this closer belongs to.
                        if let Some(pos) = stack.iter().rposition(|(w, _, _)| *w == c) {
                            stack.truncate(pos);
                        }
                    }
                    None if c == ')' => out.push(format!("unmatched ')' at column {}", i + 1)),
                    _ => {}
                }
            }
            _ => {}
        }
        i += 1;
    }
    for (want, col, open) in stack.into_iter().filter(|(_, _, o)| *o != "[") {
        out.push(format!(
            "'{open}' at column {col} is never closed by '{want}'"
        ));
    }
    out
}

/// Position of the first `c` outside `${...}`, `$[...]` and parentheses.
pub fn find_top_level(s: &str, c: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut prev = '\0';
    for (i, ch) in s.char_indices() {
        match ch {
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            _ if ch == c && depth == 0 && prev != '\\' => return Some(i),
            _ => {}
        }
        prev = ch;
    }
    None
}

/// A `[[context,]exten,]priority` target as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub context: Option<String>,
    pub exten: Option<String>,
    /// A number or a label.
    pub priority: String,
}

impl Target {
    /// Reads a target from its comma-separated fields; `None` when empty or too long.
    pub fn parse(spec: &str) -> Option<Target> {
        let fields: Vec<String> = separate(spec.trim(), ',')
            .into_iter()
            .map(|f| f.trim().to_string())
            .collect();
        match fields.as_slice() {
            [p] if !p.is_empty() => Some(Target {
                context: None,
                exten: None,
                priority: p.clone(),
            }),
            [e, p] => Some(Target {
                context: None,
                exten: Some(e.clone()),
                priority: p.clone(),
            }),
            [c, e, p] => Some(Target {
                context: Some(c.clone()),
                exten: Some(e.clone()),
                priority: p.clone(),
            }),
            _ => None,
        }
    }
}

/// `cond?iftrue:iffalse` → (cond, iftrue, iffalse), splitting at the first `?`
/// and then the first `:` (Asterisk's GotoIf/ExecIf/GosubIf).
pub fn split_condition(s: &str) -> (&str, &str, &str) {
    let (cond, branches) = s.split_once('?').unwrap_or((s, ""));
    let (t, f) = branches.split_once(':').unwrap_or((branches, ""));
    (cond, t, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separate_like_asterisk() {
        assert_eq!(separate("SIP/110,30", ','), vec!["SIP/110", "30"]);
        assert_eq!(separate("user-callerid,", ','), vec!["user-callerid", ""]);
        assert_eq!(separate("", ','), Vec::<String>::new());
        assert_eq!(separate("a(b,c),d", ','), vec!["a(b,c)", "d"]);
        assert_eq!(separate("\"a,b\",c", ','), vec!["a,b", "c"]);
        assert_eq!(separate("a\\,b,c", ','), vec!["a,b", "c"]);
        assert_eq!(separate_raw("s,1(\"x\",y)", ','), vec!["s", "1(\"x\",y)"]);
    }

    #[test]
    fn balance_finds_the_seed_typo() {
        let w = balance("GROUP=${DB(spygrp/${CALLERID(number)})");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("'${' at column 7 is never closed"), "{w:?}");
        assert!(balance("$[${ISNULL(${GROUP})}]?:continue").is_empty());
        assert!(
            balance("$[ $[\"x${LEN(${T})}\"=\"x3\"] & $[${T:0:3}<=201] ]?spy:continue").is_empty()
        );
        assert_eq!(balance("a)").len(), 1);
        assert_eq!(balance("${A)").len(), 2);
        assert!(balance("\\(x").is_empty());
        assert!(balance("$[\"${T}\" =~ \"^[0-9]+$\"]?:continue").is_empty());
        assert!(balance("Playback([x)").is_empty());
    }

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("chanspy-ext,s,1"),
            Some(Target {
                context: Some("chanspy-ext".into()),
                exten: Some("s".into()),
                priority: "1".into()
            })
        );
        assert_eq!(Target::parse("spy").unwrap().priority, "spy");
        assert_eq!(Target::parse(""), None);
        assert_eq!(Target::parse("a,b,c,d"), None);
        assert_eq!(split_condition("1?:continue"), ("1", "", "continue"));
        assert_eq!(split_condition("0?spy:nospy"), ("0", "spy", "nospy"));
        assert_eq!(find_top_level("$[a?b::c]?x:y", '?'), Some(9));
    }
}
