//! Reading `extensions.conf` into a [`Dialplan`]: sections, `exten =>`/`same =>`
//! lines, priorities, labels, `#include`, comments. Structural mistakes that
//! leave the meaning of a line unknown are errors; the rest are warnings.

use std::path::{Path, PathBuf};

use crate::check;
use crate::diag::{Diagnostic, LoadError, Origin, Severity};
use crate::model::{Context, Dialplan, Include, Priority};
use crate::options::LoadOptions;

/// How deep `#include` may nest before we assume something is wrong.
const MAX_FILE_DEPTH: usize = 32;

enum Section {
    None,
    General,
    Globals,
    Context(String),
}

struct Loader {
    plan: Dialplan,
    diags: Vec<Diagnostic>,
    /// Canonical paths of the files being read, outermost first (include loops).
    stack: Vec<PathBuf>,
    section: Section,
    last_exten: Option<String>,
    /// The priority of the previous `exten` line, whatever its extension:
    /// Asterisk's `n` is relative to that line, not to the extension.
    last_priority: Option<u32>,
    in_block_comment: bool,
    /// False for text that must not reach the file system (fuzzing).
    read_includes: bool,
}

impl Dialplan {
    /// Loads `path` and its `#include`s with the default application list.
    pub fn load(path: impl AsRef<Path>) -> Result<(Dialplan, Vec<Diagnostic>), LoadError> {
        Self::load_with(path, &LoadOptions::default())
    }

    /// Loads `path` and its `#include`s. Warnings come back with the dialplan;
    /// any error fails the load, carrying every diagnostic found.
    pub fn load_with(
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<(Dialplan, Vec<Diagnostic>), LoadError> {
        let path = path.as_ref();
        let mut loader = Loader::new();
        match std::fs::read_to_string(path) {
            Ok(text) => loader.read_text(path, &text),
            Err(e) => loader.diags.push(Diagnostic::error(
                &Origin {
                    file: path.to_path_buf(),
                    line: 0,
                },
                format!("cannot read the dialplan: {e}"),
            )),
        }
        loader.finish(options)
    }

    /// Parses dialplan text as if read from the file `name` (which places its
    /// `#include`s).
    pub fn parse_str(
        name: impl AsRef<Path>,
        text: &str,
        options: &LoadOptions,
    ) -> Result<(Dialplan, Vec<Diagnostic>), LoadError> {
        let mut loader = Loader::new();
        loader.read_text(name.as_ref(), text);
        loader.finish(options)
    }

    /// [`Dialplan::parse_str`] with every `#include` refused as an error, so
    /// that the text reads no file: for the fuzz targets, whose input could
    /// otherwise name `/dev/zero` or a FIFO. Not meant for loading a dialplan.
    #[doc(hidden)]
    pub fn parse_str_without_includes(
        name: impl AsRef<Path>,
        text: &str,
        options: &LoadOptions,
    ) -> Result<(Dialplan, Vec<Diagnostic>), LoadError> {
        let mut loader = Loader::new();
        loader.read_includes = false;
        loader.read_text(name.as_ref(), text);
        loader.finish(options)
    }
}

impl Loader {
    fn new() -> Self {
        Loader {
            plan: Dialplan::default(),
            diags: Vec::new(),
            stack: Vec::new(),
            section: Section::None,
            last_exten: None,
            last_priority: None,
            in_block_comment: false,
            read_includes: true,
        }
    }

    fn finish(mut self, options: &LoadOptions) -> Result<(Dialplan, Vec<Diagnostic>), LoadError> {
        if self.in_block_comment {
            let file = self.stack.first().cloned().unwrap_or_default();
            self.diags.push(Diagnostic::warning(
                &Origin { file, line: 0 },
                "a ';--' block comment is never closed by '--;'",
            ));
        }
        if !self.diags.iter().any(|d| d.severity == Severity::Error) {
            check::check(&self.plan, options, &mut self.diags);
        }
        self.diags
            .sort_by(|a, b| (&a.origin.file, a.origin.line).cmp(&(&b.origin.file, b.origin.line)));
        if self.diags.iter().any(|d| d.severity == Severity::Error) {
            Err(LoadError {
                diagnostics: self.diags,
            })
        } else {
            Ok((self.plan, self.diags))
        }
    }

    fn read_text(&mut self, path: &Path, text: &str) {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.stack.push(canonical);
        for (i, raw) in text.lines().enumerate() {
            let origin = Origin {
                file: path.to_path_buf(),
                line: i + 1,
            };
            let line = self.strip_comments(raw);
            let line = line.trim();
            if !line.is_empty() {
                self.line(&origin, line);
            }
        }
        self.stack.pop();
    }

    /// Removes `;` comments and `;-- --;` blocks; `\;` is a literal semicolon.
    fn strip_comments(&mut self, raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if self.in_block_comment {
                if c == '-' && raw_follows(&mut chars, "-;") {
                    self.in_block_comment = false;
                }
                continue;
            }
            match c {
                '\\' if chars.peek() == Some(&';') => {
                    chars.next();
                    out.push(';');
                }
                ';' => {
                    if raw_follows(&mut chars, "--") {
                        self.in_block_comment = true;
                        continue;
                    }
                    break;
                }
                c => out.push(c),
            }
        }
        out
    }

    fn line(&mut self, origin: &Origin, line: &str) {
        if let Some(rest) = line.strip_prefix('#') {
            self.directive(origin, rest);
        } else if line.starts_with('[') {
            self.section_header(origin, line);
        } else {
            let Some(eq) = line.find('=') else {
                self.diags.push(Diagnostic::error(
                    origin,
                    format!("cannot understand {line:?}: expected `name => value` or `[context]`"),
                ));
                return;
            };
            let key = line[..eq].trim();
            let value = line[eq + 1..]
                .strip_prefix('>')
                .unwrap_or(&line[eq + 1..])
                .trim();
            self.assignment(origin, key, value);
        }
    }

    fn directive(&mut self, origin: &Origin, rest: &str) {
        let (word, arg) = rest
            .split_once(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .map(|(w, _)| (w, rest[w.len()..].trim()))
            .unwrap_or((rest, ""));
        let arg = arg
            .trim_matches(|c| c == '"' || c == '<' || c == '>')
            .trim();
        match word {
            "include" | "tryinclude" => {
                if arg.is_empty() {
                    self.diags.push(Diagnostic::error(
                        origin,
                        format!("#{word} needs a file name"),
                    ));
                    return;
                }
                if !self.read_includes {
                    self.diags.push(Diagnostic::error(
                        origin,
                        format!("#{word} is not allowed here: this text may read no file"),
                    ));
                    return;
                }
                let base = origin.file.parent().unwrap_or(Path::new(""));
                let target = base.join(arg);
                self.include_file(origin, &target, word == "tryinclude");
            }
            "exec" => self.diags.push(Diagnostic::warning(
                origin,
                "#exec is not supported (spygroup runs no shell commands while loading); line ignored",
            )),
            other => self.diags.push(Diagnostic::error(
                origin,
                format!("unknown directive #{other}: use #include \"file\""),
            )),
        }
    }

    fn include_file(&mut self, origin: &Origin, target: &Path, optional: bool) {
        if self.stack.len() >= MAX_FILE_DEPTH {
            self.diags.push(Diagnostic::error(
                origin,
                format!("#include nested more than {MAX_FILE_DEPTH} deep"),
            ));
            return;
        }
        let canonical = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
        if self.stack.contains(&canonical) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| p.display().to_string())
                .collect();
            self.diags.push(Diagnostic::error(
                origin,
                format!("#include loop: {}", chain.join(" -> ")),
            ));
            return;
        }
        match std::fs::read_to_string(target) {
            Ok(text) => self.read_text(target, &text),
            Err(_) if optional => {}
            Err(e) => self.diags.push(Diagnostic::error(
                origin,
                format!("cannot read included file {}: {e}", target.display()),
            )),
        }
    }

    fn section_header(&mut self, origin: &Origin, line: &str) {
        let Some(end) = line.find(']') else {
            self.diags.push(Diagnostic::error(
                origin,
                format!("section header {line:?} has no closing ']'"),
            ));
            return;
        };
        let name = line[1..end].trim();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace()) {
            self.diags.push(Diagnostic::error(
                origin,
                format!("{name:?} is not a context name"),
            ));
            return;
        }
        let tail = line[end + 1..].trim();
        if !tail.is_empty() {
            self.diags.push(Diagnostic::warning(
                origin,
                format!("template options {tail:?} after [{name}] are not supported; ignored"),
            ));
        }
        self.last_exten = None;
        self.section = match name {
            "general" => Section::General,
            "globals" => Section::Globals,
            _ => {
                self.plan
                    .contexts
                    .entry(name.to_string())
                    .or_insert_with(|| Context::new(name, origin.clone()));
                Section::Context(name.to_string())
            }
        };
    }

    fn assignment(&mut self, origin: &Origin, key: &str, value: &str) {
        let ctx = match &self.section {
            Section::None => {
                self.diags.push(Diagnostic::error(
                    origin,
                    format!("`{key}` appears before any [context]"),
                ));
                return;
            }
            Section::General => return,
            Section::Globals => {
                self.plan.globals.push((key.to_string(), value.to_string()));
                return;
            }
            Section::Context(c) => c.clone(),
        };
        match key.to_ascii_lowercase().as_str() {
            "exten" => self.exten_line(origin, &ctx, value, false),
            "same" => self.exten_line(origin, &ctx, value, true),
            "include" => {
                let (name, cond) = value.split_once(',').unwrap_or((value, ""));
                let name = name.trim();
                if name.is_empty() {
                    self.diags
                        .push(Diagnostic::error(origin, "include => needs a context name"));
                    return;
                }
                if !cond.trim().is_empty() {
                    self.diags.push(Diagnostic::warning(
                        origin,
                        format!(
                            "time conditions on include => {name} are not supported; \
                             the context is always included"
                        ),
                    ));
                }
                if let Some(c) = self.plan.contexts.get_mut(&ctx) {
                    c.includes.push(Include {
                        context: name.to_string(),
                        origin: origin.clone(),
                    });
                }
            }
            "ignorepat" | "switch" | "eswitch" | "lswitch" => {
                self.diags.push(Diagnostic::warning(
                    origin,
                    format!("`{key} =>` is not supported; line ignored"),
                ));
            }
            _ => self.diags.push(Diagnostic::warning(
                origin,
                format!("unknown keyword `{key}` in [{ctx}]; line ignored"),
            )),
        }
    }

    fn exten_line(&mut self, origin: &Origin, ctx: &str, value: &str, same: bool) {
        let (exten, rest) = if same {
            match &self.last_exten {
                Some(e) => (e.clone(), value),
                None => {
                    self.diags.push(Diagnostic::error(
                        origin,
                        "`same =>` with no `exten =>` before it in this context",
                    ));
                    return;
                }
            }
        } else {
            let cut = exten_end(value);
            match cut {
                Some(i) => (value[..i].trim().to_string(), &value[i + 1..]),
                None => {
                    self.diags.push(Diagnostic::error(
                        origin,
                        format!("malformed exten line {value:?}: write exten => NAME,PRIORITY,App(args)"),
                    ));
                    return;
                }
            }
        };
        if exten.is_empty() {
            self.diags.push(Diagnostic::error(
                origin,
                "exten => with an empty extension name",
            ));
            return;
        }
        let Some((prio_text, app_text)) = rest.split_once(',') else {
            self.diags.push(Diagnostic::error(
                origin,
                format!("malformed exten line: {rest:?} needs PRIORITY,App(args)"),
            ));
            return;
        };
        self.last_exten = Some(exten.clone());
        if exten.contains('/') {
            self.diags.push(Diagnostic::warning(
                origin,
                format!("caller ID matching ({exten}) is not supported; line ignored"),
            ));
            return;
        }
        let prio_text = prio_text.trim();
        let (prio_word, label) = match prio_text.split_once('(') {
            Some((p, l)) => {
                let Some(l) = l.strip_suffix(')') else {
                    self.diags.push(Diagnostic::error(
                        origin,
                        format!("priority {prio_text:?}: the label's '(' is never closed"),
                    ));
                    return;
                };
                (p.trim(), Some(l.trim().to_string()))
            }
            None => (prio_text, None),
        };
        if prio_word.eq_ignore_ascii_case("hint") {
            return;
        }
        let number = match prio_word {
            "n" | "next" => self.last_priority.map(|p| p + 1),
            "s" | "same" => self.last_priority,
            w => match w.parse::<i64>() {
                Ok(n) if n >= 1 && n <= i64::from(u32::MAX) => Some(n as u32),
                Ok(_) => {
                    self.diags.push(Diagnostic::error(
                        origin,
                        format!("priority {w} must be 1 or more"),
                    ));
                    return;
                }
                Err(_) => self
                    .plan
                    .contexts
                    .get(ctx)
                    .and_then(|c| c.extensions.iter().find(|e| e.pattern.as_str() == exten))
                    .and_then(|e| e.find_label(w))
                    .map(|p| p.number),
            },
        };
        let Some(number) = number else {
            let why = if matches!(prio_word, "n" | "next" | "s" | "same") {
                format!("priority '{prio_word}' needs an exten line before it")
            } else {
                format!("{prio_word:?} is neither a priority number, n, nor a label defined above")
            };
            self.diags.push(Diagnostic::error(origin, why));
            return;
        };
        self.last_priority = Some(number);
        let app_text = app_text.trim();
        let (app, args) = split_app(app_text);
        if app.is_empty() {
            self.diags.push(Diagnostic::error(
                origin,
                format!("exten {exten},{prio_text} has no application"),
            ));
            return;
        }
        if let Some(warning) = args.1 {
            self.diags.push(Diagnostic::warning(origin, warning));
        }
        let Some(context) = self.plan.contexts.get_mut(ctx) else {
            return;
        };
        let (ext, pattern_warning) = context.extension_mut(&exten);
        if let Some(w) = pattern_warning {
            self.diags.push(Diagnostic::warning(origin, w));
        }
        if let Some(prev) = ext.priorities.get(&number) {
            let msg = format!(
                "duplicate priority {exten},{number} (first at {}); this line is ignored",
                prev.origin
            );
            self.diags.push(Diagnostic::warning(origin, msg));
            return;
        }
        if let Some(l) = &label {
            if let Some(prev) = ext.find_label(l) {
                let msg = format!(
                    "label {l} already names {exten},{} ({}); Goto({l}) goes there",
                    prev.number, prev.origin
                );
                self.diags.push(Diagnostic::warning(origin, msg));
            }
        }
        ext.priorities.insert(
            number,
            Priority {
                number,
                label,
                app: app.to_string(),
                args: args.0,
                origin: origin.clone(),
            },
        );
    }
}

/// Consumes `s` from `chars` if it comes next.
fn raw_follows(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, s: &str) -> bool {
    let mut probe = chars.clone();
    for want in s.chars() {
        if probe.next() != Some(want) {
            return false;
        }
    }
    *chars = probe;
    true
}

/// The comma ending the extension name; commas inside `[...]` belong to the pattern.
fn exten_end(value: &str) -> Option<usize> {
    let mut in_set = false;
    for (i, c) in value.char_indices() {
        match c {
            '[' => in_set = true,
            ']' => in_set = false,
            ',' if !in_set => return Some(i),
            _ => {}
        }
    }
    None
}

/// `App(args)` → ("App", args). Also the old `App,args` form. The arguments are
/// what lies between the first `(` and a final `)`; a missing `)` is a warning
/// (Asterisk takes the rest of the line, and so do we).
fn split_app(text: &str) -> (&str, (String, Option<String>)) {
    let paren = text.find('(');
    let comma = text.find(',');
    match (paren, comma) {
        (Some(p), c) if c.is_none_or(|c| p < c) => {
            let app = text[..p].trim();
            let inner = &text[p + 1..];
            match inner.strip_suffix(')') {
                Some(args) => (app, (args.to_string(), None)),
                None => (
                    app,
                    (
                        inner.to_string(),
                        Some(format!("{app}( has no closing ')' at the end of the line")),
                    ),
                ),
            }
        }
        (_, Some(c)) => (text[..c].trim(), (text[c + 1..].to_string(), None)),
        _ => (text.trim(), (String::new(), None)),
    }
}
