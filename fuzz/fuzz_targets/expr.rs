//! Dialplan expressions and substitution: `$[...]` evaluated on its own
//! (`dialplan::evaluate_expression`), and any text through `${...}`/`$[...]`
//! substitution (`dialplan::substitute`) with a few channel variables, globals
//! and AstDB entries, as the interpreter does for every application argument.
#![no_main]

use dialplan::{evaluate_expression, substitute, Env, Globals, Location, MAX_SUBSTITUTED};
use libfuzzer_sys::fuzz_target;
use spygroup_fuzz::{block_on, channel, FuzzHost};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = evaluate_expression(text);

    let mut host = FuzzHost::with_data();
    let mut chan = channel();
    let globals = Globals::from_pairs(&[
        ("TRUNK".into(), "SIP/provider".into()),
        ("OPERATOR".into(), "100".into()),
    ]);
    let loc = Location {
        context: "from-internal".into(),
        exten: "*222110".into(),
        priority: 1,
    };
    let mut notes = Vec::new();
    let mut env = Env {
        host: &mut host,
        chan: &mut chan,
        globals: &globals,
        loc: &loc,
        notes: &mut notes,
    };
    let out = block_on(substitute(&mut env, text));
    assert!(
        out.len() <= MAX_SUBSTITUTED.max(text.len()),
        "substitution grew to {} bytes",
        out.len()
    );
    for (name, value) in chan.iter() {
        assert!(
            value.len() <= MAX_SUBSTITUTED.max(text.len()),
            "{name} grew to {} bytes",
            value.len()
        );
    }
});
