//! The loaded dialplan: contexts of extensions of numbered priorities, and the
//! lookups the interpreter and the host need.

use std::collections::{BTreeMap, HashSet};

use crate::diag::Origin;
use crate::pattern::Pattern;

/// How deep `include =>` chains are followed (Asterisk's AST_PBX_MAX_STACK).
const MAX_INCLUDE_DEPTH: usize = 128;

/// One `exten =>` line: a priority of an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priority {
    pub number: u32,
    pub label: Option<String>,
    pub app: String,
    /// Arguments as written (substituted only when run).
    pub args: String,
    pub origin: Origin,
}

/// The priorities of one extension name or pattern within a context, by number.
#[derive(Debug, Clone)]
pub struct Extension {
    pub pattern: Pattern,
    pub priorities: BTreeMap<u32, Priority>,
}

impl Extension {
    /// The priority carrying `label`.
    pub fn find_label(&self, label: &str) -> Option<&Priority> {
        self.priorities
            .values()
            .find(|p| p.label.as_deref() == Some(label))
    }
}

/// An `include =>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub context: String,
    pub origin: Origin,
}

/// A `[context]`; every section of one name merged in file order.
#[derive(Debug, Clone)]
pub struct Context {
    pub name: String,
    /// Kept in Asterisk's match order (see [`Pattern::specificity_cmp`]).
    pub extensions: Vec<Extension>,
    pub includes: Vec<Include>,
    /// Where the context was first opened.
    pub origin: Origin,
}

impl Context {
    pub(crate) fn new(name: &str, origin: Origin) -> Self {
        Context {
            name: name.to_string(),
            extensions: Vec::new(),
            includes: Vec::new(),
            origin,
        }
    }

    /// The extension written exactly as `text`, created in sorted position if absent.
    pub(crate) fn extension_mut(&mut self, text: &str) -> (&mut Extension, Option<String>) {
        if let Some(i) = self
            .extensions
            .iter()
            .position(|e| e.pattern.as_str() == text)
        {
            return (&mut self.extensions[i], None);
        }
        let (pattern, warning) = Pattern::parse(text);
        let at = self
            .extensions
            .iter()
            .position(|e| pattern.specificity_cmp(&e.pattern) == std::cmp::Ordering::Less)
            .unwrap_or(self.extensions.len());
        self.extensions.insert(
            at,
            Extension {
                pattern,
                priorities: BTreeMap::new(),
            },
        );
        (&mut self.extensions[at], warning)
    }
}

/// A whole dialplan: contexts by name and the `[globals]` section.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    pub(crate) contexts: BTreeMap<String, Context>,
    pub(crate) globals: Vec<(String, String)>,
}

impl Dialplan {
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts.get(name)
    }

    /// Context names in alphabetical order.
    pub fn context_names(&self) -> impl Iterator<Item = &str> {
        self.contexts.keys().map(String::as_str)
    }

    /// `[globals]` as written, in order.
    pub fn globals(&self) -> &[(String, String)] {
        &self.globals
    }

    /// Every extension that matches `exten`, in the order Asterisk tries them:
    /// the context's own, then each include depth-first in order. Contexts
    /// already visited (include loops) are skipped.
    pub fn candidates<'a>(
        &'a self,
        context: &str,
        exten: &str,
    ) -> Vec<(&'a Context, &'a Extension)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.collect(context, exten, &mut seen, &mut out, 0);
        out
    }

    fn collect<'a>(
        &'a self,
        context: &str,
        exten: &str,
        seen: &mut HashSet<String>,
        out: &mut Vec<(&'a Context, &'a Extension)>,
        depth: usize,
    ) {
        if depth > MAX_INCLUDE_DEPTH || !seen.insert(context.to_string()) {
            return;
        }
        let Some(ctx) = self.contexts.get(context) else {
            return;
        };
        for e in &ctx.extensions {
            if e.pattern.matches(exten) {
                out.push((ctx, e));
            }
        }
        for inc in &ctx.includes {
            self.collect(&inc.context, exten, seen, out, depth + 1);
        }
    }

    /// The priority that runs for `exten` at `priority` in `context`: the first
    /// matching extension (in match order) that has that priority.
    pub fn find(&self, context: &str, exten: &str, priority: u32) -> Option<&Priority> {
        self.candidates(context, exten)
            .into_iter()
            .find_map(|(_, e)| e.priorities.get(&priority))
    }

    /// The priority labelled `label` for `exten` in `context`.
    pub fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<&Priority> {
        self.candidates(context, exten)
            .into_iter()
            .find_map(|(_, e)| e.find_label(label))
    }

    /// Whether dialling `exten` in `context` starts anything (priority 1 exists).
    pub fn exists(&self, context: &str, exten: &str) -> bool {
        self.find(context, exten, 1).is_some()
    }

    /// Whether more digits after `exten` could reach an extension of `context`
    /// (so a digit collector should keep waiting).
    pub fn can_match_more(&self, context: &str, exten: &str) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![(context.to_string(), 0usize)];
        while let Some((name, depth)) = stack.pop() {
            if depth > MAX_INCLUDE_DEPTH || !seen.insert(name.clone()) {
                continue;
            }
            let Some(ctx) = self.contexts.get(&name) else {
                continue;
            };
            if ctx
                .extensions
                .iter()
                .any(|e| e.pattern.can_match_more(exten))
            {
                return true;
            }
            for inc in ctx.includes.iter().rev() {
                stack.push((inc.context.clone(), depth + 1));
            }
        }
        false
    }
}
