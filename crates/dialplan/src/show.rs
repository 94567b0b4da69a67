//! `dialplan show`, laid out like Asterisk's so operators read it at a glance.

use std::collections::HashSet;
use std::fmt::Write;

use crate::model::{Context, Dialplan, Extension};

struct Counts {
    extensions: usize,
    priorities: usize,
    contexts: usize,
}

impl Dialplan {
    /// `dialplan show CONTEXT` (every extension) or `dialplan show EXTEN@CONTEXT`
    /// (extensions matching EXTEN, including those reached through includes).
    /// An empty `context` shows every context.
    pub fn show(&self, context: &str, exten: Option<&str>) -> String {
        let mut out = String::new();
        let mut counts = Counts {
            extensions: 0,
            priorities: 0,
            contexts: 0,
        };
        if context.is_empty() {
            for ctx in self.contexts.values() {
                self.show_context(&mut out, ctx, exten, false, &mut counts);
            }
        } else {
            let Some(ctx) = self.contexts.get(context) else {
                return format!("There is no existence of '{context}' context\n");
            };
            self.show_context(&mut out, ctx, exten, false, &mut counts);
            if let Some(e) = exten {
                // Asterisk follows includes when asked for one extension.
                let mut seen = HashSet::from([ctx.name.clone()]);
                let mut queue: Vec<String> =
                    ctx.includes.iter().map(|i| i.context.clone()).collect();
                let mut i = 0;
                while i < queue.len() {
                    let name = queue[i].clone();
                    i += 1;
                    if !seen.insert(name.clone()) {
                        continue;
                    }
                    if let Some(inc) = self.contexts.get(&name) {
                        if inc.extensions.iter().any(|x| x.pattern.matches(e)) {
                            self.show_context(&mut out, inc, exten, true, &mut counts);
                        }
                        queue.extend(inc.includes.iter().map(|i| i.context.clone()));
                    }
                }
                if counts.extensions == 0 {
                    return format!("There is no existence of {e}@{context} extension\n");
                }
            }
        }
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                one.to_string()
            } else {
                many.to_string()
            }
        };
        let _ = writeln!(
            out,
            "-= {} {} ({} {}) in {} {}. =-",
            counts.extensions,
            plural(counts.extensions, "extension", "extensions"),
            counts.priorities,
            plural(counts.priorities, "priority", "priorities"),
            counts.contexts,
            plural(counts.contexts, "context", "contexts"),
        );
        out
    }

    fn show_context(
        &self,
        out: &mut String,
        ctx: &Context,
        exten: Option<&str>,
        included: bool,
        counts: &mut Counts,
    ) {
        let shown: Vec<&Extension> = ctx
            .extensions
            .iter()
            .filter(|e| exten.is_none_or(|x| e.pattern.matches(x)))
            .collect();
        if exten.is_some() && shown.is_empty() && !included {
            return;
        }
        counts.contexts += 1;
        let kind = if included {
            "Included context"
        } else {
            "Context"
        };
        let _ = writeln!(out, "[ {kind} '{}' created by 'pbx_config' ]", ctx.name);
        for e in shown {
            counts.extensions += 1;
            let mut first = true;
            for p in e.priorities.values() {
                counts.priorities += 1;
                let head = if first {
                    format!("'{}' =>", e.pattern)
                } else {
                    match &p.label {
                        Some(l) => format!("[{l}]"),
                        None => String::new(),
                    }
                };
                let head = if first {
                    match &p.label {
                        Some(l) => format!("{head} [{l}]"),
                        None => head,
                    }
                } else {
                    head
                };
                let body = format!("{}. {}({})", p.number, p.app, p.args);
                let _ = writeln!(
                    out,
                    "  {head:<17} {body:<45} [{}:{}]",
                    p.origin.file.display(),
                    p.origin.line
                );
                first = false;
            }
        }
        if exten.is_none() {
            for inc in &ctx.includes {
                let _ = writeln!(
                    out,
                    "  {:<17} {:<45} [pbx_config]",
                    "Include =>",
                    format!("'{}'", inc.context)
                );
            }
        }
        out.push('\n');
    }
}
