//! `$[...]` expressions, with Asterisk's operators, precedence and rules:
//! numbers compare as numbers, anything else as strings; quoted strings keep
//! their quotes (so `"x3"="x3"` is a plain string comparison); `:` is a regex
//! match anchored at the start, `=~` unanchored; the conditional is `c ? a :: b`.
//!
//! Precedence, loosest first: `?::`, `|`, `&`, comparisons, `+ -`, `* / %`,
//! unary `! -`, `: =~`, parentheses.

use regex::{Regex, RegexBuilder};

/// What Asterisk returns for a division by zero.
const DIV_BY_ZERO: f64 = 2_147_483_647.0;
/// Nesting of parentheses and unary operators before we refuse (no stack overflow).
const MAX_DEPTH: usize = 200;
/// Compiled size a `:` or `=~` pattern may reach. Dialplan patterns are tiny
/// (`^[0-9]{3,4}$`); under the regex crate's default of 10 MB a dozen bytes such
/// as `\w{200}` (Unicode classes are big) take long to compile, a line of them
/// seconds. 1 MB still takes `\w{20}`.
const MAX_REGEX_SIZE: usize = 1024 * 1024;
/// `:` and `=~` matches (each compiles its pattern) one expression may do, or one
/// substitution in all its `$[...]`: that and the size limit above bound the
/// time a line of patterns can take.
pub(crate) const MAX_REGEX_OPS: usize = 16;

/// The result of an expression, with warnings (e.g. a non-numeric operand).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub value: String,
    pub warnings: Vec<String>,
}

/// Evaluates the inside of `$[...]` (already substituted). A syntax error is
/// `Err` with a message saying what is wrong; the caller yields an empty string
/// as Asterisk does, and reports the message.
pub fn evaluate(text: &str) -> Result<Evaluated, String> {
    let mut budget = MAX_REGEX_OPS;
    evaluate_within(text, &mut budget)
}

/// [`evaluate`] with `regex_budget` regular-expression matches left, shared by
/// the expressions of one substitution; each match uses one.
pub(crate) fn evaluate_within(text: &str, regex_budget: &mut usize) -> Result<Evaluated, String> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Ok(Evaluated {
            value: String::new(),
            warnings: Vec::new(),
        });
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        regex_budget,
        warnings: Vec::new(),
    };
    let v = p.ternary()?;
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(format!(
            "syntax error in $[{text}]: unexpected {}",
            t.describe()
        ));
    }
    Ok(Evaluated {
        value: v.text(),
        warnings: p.warnings,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Op(&'static str),
    Word(String),
    Quoted(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Op(o) => format!("'{o}'"),
            Tok::Word(w) => format!("{w:?}"),
            Tok::Quoted(q) => q.clone(),
        }
    }
}

/// Longest operators first so `<=` is not read as `<` then `=`.
const OPS: &[&str] = &[
    "::", "=~", "==", "!=", "<=", ">=", "|", "&", "=", "<", ">", "+", "-", "*", "/", "%", ":", "!",
    "?", "(", ")",
];

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    'outer: while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            let Some(end) = rest[1..].find('"') else {
                return Err(format!("syntax error in $[{text}]: a '\"' is never closed"));
            };
            out.push(Tok::Quoted(rest[..end + 2].to_string()));
            rest = &rest[end + 2..];
            continue;
        }
        for op in OPS {
            if rest.starts_with(op) {
                out.push(Tok::Op(op));
                rest = &rest[op.len()..];
                continue 'outer;
            }
        }
        let end = rest
            .char_indices()
            .find(|&(i, ch)| {
                ch.is_whitespace() || ch == '"' || OPS.iter().any(|op| rest[i..].starts_with(op))
            })
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        out.push(Tok::Word(rest[..end].to_string()));
        rest = &rest[end..];
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Num(f64),
    Str(String),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Num(n) => format_number(*n),
            Val::Str(s) => s.clone(),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Str(s) => parse_number(s),
        }
    }

    /// Asterisk's "zero or null": false in `|`, `&`, `!` and `?`.
    fn is_false(&self) -> bool {
        match self {
            Val::Num(n) => *n == 0.0,
            Val::Str(s) => s.is_empty() || parse_number(s) == Some(0.0),
        }
    }
}

/// An unquoted decimal number: optional sign, digits, optional fraction.
fn parse_number(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Whole numbers print without a fraction, as Asterisk's `%Lg` does.
pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e18 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

struct Parser<'b> {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
    regex_budget: &'b mut usize,
    warnings: Vec<String>,
}

impl Parser<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn eat(&mut self, ops: &[&str]) -> Option<&'static str> {
        let op = self.peek_op()?;
        if ops.contains(&op) {
            self.pos += 1;
            Some(op)
        } else {
            None
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err("expression nested too deeply".into())
        } else {
            Ok(())
        }
    }

    fn ternary(&mut self) -> Result<Val, String> {
        self.enter()?;
        let cond = self.or()?;
        let out = if self.eat(&["?"]).is_some() {
            let a = self.ternary()?;
            if self.eat(&["::"]).is_none() {
                return Err("syntax error: '?' needs '::' (write cond ? a :: b)".into());
            }
            let b = self.ternary()?;
            if cond.is_false() {
                b
            } else {
                a
            }
        } else {
            cond
        };
        self.depth -= 1;
        Ok(out)
    }

    fn or(&mut self) -> Result<Val, String> {
        let mut a = self.and()?;
        while self.eat(&["|"]).is_some() {
            let b = self.and()?;
            a = if a.is_false() { b } else { a };
        }
        Ok(a)
    }

    fn and(&mut self) -> Result<Val, String> {
        let mut a = self.compare()?;
        while self.eat(&["&"]).is_some() {
            let b = self.compare()?;
            a = if a.is_false() || b.is_false() {
                Val::Num(0.0)
            } else {
                a
            };
        }
        Ok(a)
    }

    fn compare(&mut self) -> Result<Val, String> {
        let mut a = self.additive()?;
        while let Some(op) = self.eat(&["=", "==", "!=", "<", ">", "<=", ">="]) {
            let b = self.additive()?;
            let ord = match (a.num(), b.num()) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => Some(a.text().cmp(&b.text())),
            };
            let truth = match (op, ord) {
                (_, None) => false,
                ("=" | "==", Some(o)) => o.is_eq(),
                ("!=", Some(o)) => o.is_ne(),
                ("<", Some(o)) => o.is_lt(),
                (">", Some(o)) => o.is_gt(),
                ("<=", Some(o)) => o.is_le(),
                (_, Some(o)) => o.is_ge(),
            };
            a = Val::Num(if truth { 1.0 } else { 0.0 });
        }
        Ok(a)
    }

    fn additive(&mut self) -> Result<Val, String> {
        let mut a = self.multiplicative()?;
        while let Some(op) = self.eat(&["+", "-"]) {
            let b = self.multiplicative()?;
            a = match (a.num(), b.num()) {
                (Some(x), Some(y)) => Val::Num(if op == "+" { x + y } else { x - y }),
                (x, y) => {
                    self.warnings
                        .push(format!("non-numeric argument to '{op}'"));
                    match (x, y, op) {
                        (None, None, _) => Val::Num(0.0),
                        (None, Some(y), "+") => Val::Num(y),
                        (None, Some(y), _) => Val::Num(-y),
                        (Some(x), None, _) => Val::Num(x),
                        (Some(_), Some(_), _) => Val::Num(0.0),
                    }
                }
            };
        }
        Ok(a)
    }

    fn multiplicative(&mut self) -> Result<Val, String> {
        let mut a = self.unary()?;
        while let Some(op) = self.eat(&["*", "/", "%"]) {
            let b = self.unary()?;
            a = match (a.num(), b.num()) {
                (Some(x), Some(y)) => match op {
                    "*" => Val::Num(x * y),
                    _ if y == 0.0 => {
                        self.warnings.push("division by zero".into());
                        Val::Num(if op == "/" { DIV_BY_ZERO } else { 0.0 })
                    }
                    "/" => Val::Num(x / y),
                    _ => Val::Num(x % y),
                },
                (x, _) => {
                    self.warnings
                        .push(format!("non-numeric argument to '{op}'"));
                    match (op, x) {
                        ("/" | "%", Some(x)) => Val::Num(x),
                        _ => Val::Num(0.0),
                    }
                }
            };
        }
        Ok(a)
    }

    fn unary(&mut self) -> Result<Val, String> {
        if let Some(op) = self.eat(&["!", "-"]) {
            self.enter()?;
            let a = self.unary()?;
            self.depth -= 1;
            return Ok(match op {
                "!" => Val::Num(if a.is_false() { 1.0 } else { 0.0 }),
                _ => match a.num() {
                    Some(x) => Val::Num(-x),
                    None => {
                        self.warnings
                            .push("non-numeric argument to unary '-'".into());
                        Val::Num(0.0)
                    }
                },
            });
        }
        self.regex_match()
    }

    fn regex_match(&mut self) -> Result<Val, String> {
        let mut a = self.primary()?;
        while let Some(op) = self.eat(&[":", "=~"]) {
            let b = self.primary()?;
            if *self.regex_budget == 0 {
                return Err(format!(
                    "more than {MAX_REGEX_OPS} regular expression matches ('{op}') in one \
                     expression or line; split the work over several priorities"
                ));
            }
            *self.regex_budget -= 1;
            a = regex_op(&a.text(), &b.text(), op == ":")?;
        }
        Ok(a)
    }

    fn primary(&mut self) -> Result<Val, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                Ok(match parse_number(&w) {
                    Some(n) => Val::Num(n),
                    None => Val::Str(w),
                })
            }
            Some(Tok::Quoted(q)) => {
                self.pos += 1;
                Ok(Val::Str(q))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let v = self.ternary()?;
                if self.eat(&[")"]).is_none() {
                    return Err("syntax error: '(' is never closed".into());
                }
                Ok(v)
            }
            Some(t) => Err(format!("syntax error: unexpected {}", t.describe())),
            None => Err("syntax error: the expression ends where a value was expected".into()),
        }
    }
}

fn strip_quotes(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// `str : regex` (anchored) and `str =~ regex`: the first capture if the regex
/// has one (empty when no match), else the length of the match (0 when none).
fn regex_op(subject: &str, pattern: &str, anchored: bool) -> Result<Val, String> {
    let subject = strip_quotes(subject);
    let pattern = strip_quotes(pattern);
    let full = if anchored {
        format!("^(?:{pattern})")
    } else {
        pattern.to_string()
    };
    let re: Regex = RegexBuilder::new(&full)
        .size_limit(MAX_REGEX_SIZE)
        .dfa_size_limit(MAX_REGEX_SIZE)
        .build()
        .map_err(|e| format!("bad regular expression {pattern:?}: {e}"))?;
    let has_group = re.captures_len() > 1;
    Ok(match re.captures(subject) {
        Some(caps) if has_group => Val::Str(
            caps.get(1)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ),
        Some(caps) => Val::Num(caps.get(0).map_or(0, |m| m.as_str().chars().count()) as f64),
        None if has_group => Val::Str(String::new()),
        None => Val::Num(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> String {
        evaluate(s).unwrap_or_else(|e| panic!("{s}: {e}")).value
    }

    #[test]
    fn expression_table() {
        // Expected values follow Asterisk's documented operator semantics.
        let table: &[(&str, &str)] = &[
            ("1 + 2", "3"),
            ("1+2*3", "7"),
            ("(1+2)*3", "9"),
            ("10 - 4 - 3", "3"),
            ("7 % 3", "1"),
            ("5 / 2", "2.5"),
            ("-5 + 2", "-3"),
            ("1 = 1", "1"),
            ("1 == 1.0", "1"),
            ("2 != 3", "1"),
            ("150<=201", "1"),
            ("150>110", "1"),
            ("110>110", "0"),
            ("9 < 10", "1"),
            ("abc < abd", "1"),
            ("\"x3\"=\"x3\"", "1"),
            ("\"x3\" = \"x4\"", "0"),
            ("\"\" = \"\"", "1"),
            ("10 < 9a", "1"),
            ("0 | 5", "5"),
            ("3 | 5", "3"),
            ("3 & 5", "3"),
            ("3 & 0", "0"),
            ("1 & 1 & 1", "1"),
            ("!0", "1"),
            ("!7", "0"),
            ("!abc", "0"),
            ("1 ? yes :: no", "yes"),
            ("0 ? yes :: no", "no"),
            ("abcde : ab", "2"),
            ("abcde : bc", "0"),
            ("abcde : \"a(.)c\"", "b"),
            ("abcde : \"x(.)\"", ""),
            ("12345 : \"[0-9]+\"", "5"),
            ("abcde =~ cd", "2"),
            ("abcde =~ \"c(d)\"", "d"),
            ("\"abc\" : \"a\"", "1"),
            ("hello", "hello"),
            ("\"quoted\"", "\"quoted\""),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(ev(input), *want, "$[{input}]");
        }
    }

    #[test]
    fn warnings_and_errors() {
        let e = evaluate("a + 1").unwrap();
        assert_eq!(e.value, "1");
        assert_eq!(e.warnings, vec!["non-numeric argument to '+'".to_string()]);
        let e = evaluate("4 / 0").unwrap();
        assert_eq!(e.value, "2147483647");
        assert!(e.warnings[0].contains("division by zero"));
        assert!(evaluate("1 +").unwrap_err().contains("syntax error"));
        assert!(evaluate("(1").unwrap_err().contains("never closed"));
        assert!(evaluate("1 ? 2").unwrap_err().contains("::"));
        assert!(evaluate("\"abc").unwrap_err().contains("never closed"));
        assert!(evaluate("1 2").unwrap_err().contains("unexpected"));
        assert!(evaluate("a : \"(\"")
            .unwrap_err()
            .contains("regular expression"));
        let deep = "(".repeat(1000) + "1" + &")".repeat(1000);
        assert!(evaluate(&deep).is_err());
        let bangs = "!".repeat(1000) + "1";
        assert!(evaluate(&bangs).is_err());
    }

    /// Found with hand-made inputs run through the `expr` fuzz target: a line
    /// of 250 patterns like `\w{N}` took five seconds, one of 300 `\w{200}` over
    /// a minute, each compiled under the regex crate's 10 MB default. Patterns
    /// are now capped in size and in number.
    #[test]
    fn regular_expressions_are_bounded_in_size_and_number() {
        let err = evaluate(r#"a : "\w{5000}""#).unwrap_err();
        assert!(err.contains("bad regular expression"), "{err}");
        assert_eq!(ev(r#"abc : "\w{3}""#), "3");
        let many = "a".to_string() + &" : a".repeat(MAX_REGEX_OPS);
        assert!(evaluate(&many).is_ok());
        let too_many = many + " : a";
        let err = evaluate(&too_many).unwrap_err();
        assert!(err.contains("regular expression matches"), "{err}");
    }
}
