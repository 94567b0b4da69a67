//! Whole-dialplan checks run after parsing: unknown applications, unbalanced
//! brackets, priority gaps, and Goto/Gosub/Macro targets that do not exist.

use crate::apps::{self, DEFAULT_APPS};
use crate::args::{self, Target};
use crate::diag::Diagnostic;
use crate::model::{Context, Dialplan, Extension, Priority};
use crate::options::LoadOptions;

/// FreePBX macros spygroup provides itself when the dialplan lacks them.
pub const BUILTIN_MACROS: &[&str] = &["user-callerid"];

pub fn check(plan: &Dialplan, options: &LoadOptions, diags: &mut Vec<Diagnostic>) {
    let known = |app: &str| match &options.known_apps {
        Some(list) => apps::is_interpreter_app(app) || list.iter().any(|a| apps::same_app(a, app)),
        None => DEFAULT_APPS.iter().any(|a| apps::same_app(a, app)),
    };
    for ctx in plan.contexts.values() {
        for inc in &ctx.includes {
            if plan.context(&inc.context).is_none() {
                diags.push(Diagnostic::warning(
                    &inc.origin,
                    format!("include => {}: no such context", inc.context),
                ));
            }
        }
        for ext in &ctx.extensions {
            check_gaps(ext, diags);
            for p in ext.priorities.values() {
                if !known(&p.app) {
                    diags.push(Diagnostic::warning(
                        &p.origin,
                        format!(
                            "unknown application {}: spygroup cannot run it, and a call \
                             reaching this line fails",
                            p.app
                        ),
                    ));
                }
                for msg in args::balance(&p.args) {
                    diags.push(Diagnostic::warning(
                        &p.origin,
                        format!("in the arguments of {}: {msg}", p.app),
                    ));
                }
                check_targets(plan, ctx, ext, p, diags);
            }
        }
    }
}

/// Asterisk runs priorities one by one and stops at the first missing number.
fn check_gaps(ext: &Extension, diags: &mut Vec<Diagnostic>) {
    let name = ext.pattern.as_str();
    let mut expected = 1u32;
    for (&n, p) in &ext.priorities {
        if n != expected {
            let msg = if expected == 1 {
                format!(
                    "extension {name} has no priority 1, so a call never enters it; \
                     priority {n} is reached only by Goto"
                )
            } else {
                format!(
                    "priority {name},{n} follows a gap (no priority {expected}): execution \
                     stops at {}, so {n} is reached only by Goto",
                    expected - 1
                )
            };
            diags.push(Diagnostic::warning(&p.origin, msg));
        }
        expected = n.saturating_add(1);
    }
}

fn check_targets(
    plan: &Dialplan,
    ctx: &Context,
    ext: &Extension,
    p: &Priority,
    diags: &mut Vec<Diagnostic>,
) {
    let app = p.app.to_ascii_lowercase();
    let specs: Vec<&str> = match app.as_str() {
        "goto" => vec![p.args.as_str()],
        "gotoif" => {
            let Some(q) = args::find_top_level(&p.args, '?') else {
                diags.push(Diagnostic::warning(
                    &p.origin,
                    "GotoIf needs condition?[label1][:label2]",
                ));
                return;
            };
            let branches = &p.args[q + 1..];
            let (t, f) = branches.split_once(':').unwrap_or((branches, ""));
            vec![t, f]
        }
        "gosub" => vec![strip_sub_args(&p.args)],
        "gosubif" => match args::find_top_level(&p.args, '?') {
            Some(q) => {
                let branches = &p.args[q + 1..];
                let (t, f) = branches.split_once(':').unwrap_or((branches, ""));
                vec![strip_sub_args(t), strip_sub_args(f)]
            }
            None => Vec::new(),
        },
        "macro" => {
            let name = args::separate(&p.args, ',')
                .into_iter()
                .next()
                .unwrap_or_default();
            let name = name.trim();
            if !name.contains('$')
                && plan.context(&format!("macro-{name}")).is_none()
                && !BUILTIN_MACROS.contains(&name)
            {
                diags.push(Diagnostic::warning(
                    &p.origin,
                    format!("Macro({name}): no context [macro-{name}]"),
                ));
            }
            return;
        }
        _ => return,
    };
    for spec in specs {
        let spec = spec.trim();
        if spec.is_empty() || spec.contains('$') {
            continue;
        }
        if let Err(msg) = resolve_literal(plan, ctx, ext, spec) {
            diags.push(Diagnostic::warning(
                &p.origin,
                format!("{}({spec}): {msg}", p.app),
            ));
        }
    }
}

/// `label(args)` → `label`.
fn strip_sub_args(s: &str) -> &str {
    match s.find('(') {
        Some(i) => &s[..i],
        None => s,
    }
}

fn resolve_literal(
    plan: &Dialplan,
    ctx: &Context,
    ext: &Extension,
    spec: &str,
) -> Result<(), String> {
    let Some(t) = Target::parse(spec) else {
        return Err("not a [[context,]extension,]priority target".into());
    };
    let context = t.context.as_deref().unwrap_or(&ctx.name);
    if plan.context(context).is_none() {
        return Err(format!("no context [{context}]"));
    }
    let exten = match &t.exten {
        Some(e) => e.as_str(),
        // Same extension: a label is looked up in the extension we are in. For a
        // pattern we cannot know the dialled string, so look in the pattern itself.
        None => {
            return if t.priority.parse::<u32>().is_ok() || ext.find_label(&t.priority).is_some() {
                Ok(())
            } else {
                Err(format!(
                    "no label {} in extension {}",
                    t.priority, ext.pattern
                ))
            };
        }
    };
    if plan.candidates(context, exten).is_empty() {
        return Err(format!("no extension {exten} in [{context}]"));
    }
    match t.priority.parse::<u32>() {
        Ok(n) if plan.find(context, exten, n).is_some() => Ok(()),
        Ok(n) => Err(format!("no priority {n} for {exten} in [{context}]")),
        Err(_) if plan.find_label(context, exten, &t.priority).is_some() => Ok(()),
        Err(_) => Err(format!(
            "no label {} for {exten} in [{context}]",
            t.priority
        )),
    }
}
