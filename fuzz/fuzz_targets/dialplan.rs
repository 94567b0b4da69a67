//! `extensions.conf` text: the parser and the checks after it
//! (`Dialplan::parse_str`, without `#include` so no file is read), then what the
//! PBX does with a loaded plan: `dialplan show`, extension lookups, and a short
//! run of the interpreter against a host that answers every application at once.
#![no_main]

use std::sync::Arc;

use dialplan::{Dialplan, Globals, Interpreter, Limits, LoadOptions, Pattern};
use libfuzzer_sys::fuzz_target;
use spygroup_fuzz::{block_on, channel, FuzzHost};

/// Extensions every plan is asked about besides its own.
const DIALLED: &[&str] = &[
    "s",
    "h",
    "i",
    "t",
    "110",
    "111",
    "*222110",
    "0612345678",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Patterns on their own: each line as an extension name, matched against
    // the dialled strings.
    for line in text.lines().take(8) {
        let (p, _) = Pattern::parse(line);
        for d in DIALLED {
            let _ = p.matches(d);
            let _ = p.can_match_more(d);
        }
    }
    let Ok((plan, _warnings)) =
        Dialplan::parse_str_without_includes("fuzz.conf", text, &LoadOptions::default())
    else {
        return;
    };
    let _ = plan.show("", None);
    let contexts: Vec<String> = plan.context_names().map(str::to_string).collect();
    let plan = Arc::new(plan);
    for ctx in contexts.iter().take(4) {
        let mut extens: Vec<String> = DIALLED.iter().map(|s| s.to_string()).collect();
        if let Some(c) = plan.context(ctx) {
            extens.extend(
                c.extensions
                    .iter()
                    .take(4)
                    .map(|e| e.pattern.as_str().to_string()),
            );
        }
        for e in &extens {
            let _ = plan.show(ctx, Some(e));
            let _ = plan.exists(ctx, e);
            let _ = plan.can_match_more(ctx, e);
            let _ = plan.find_label(ctx, e, "start");
        }
        // A call into the context, as the switch starts one.
        for exten in extens.iter().take(3) {
            let globals = Globals::from_pairs(plan.globals());
            let mut call = Interpreter::new(plan.clone(), globals, channel()).with_limits(Limits {
                max_steps: 2_000,
                max_steps_without_host: 200,
            });
            let mut host = FuzzHost::with_data();
            let _ = block_on(call.run(&mut host, ctx, exten, 1));
        }
    }
});
