//! Interpreter runs against a scripted host.

mod common;

use common::{block_on, interp, plan, MockHost};
use dialplan::{AppOutcome, Dialplan, Limits, RunEnd};
use std::sync::Arc;

fn shipped() -> Arc<Dialplan> {
    let (p, _) = Dialplan::load(common::repo_file("config/extensions.conf")).unwrap();
    Arc::new(p)
}

fn seed() -> Arc<Dialplan> {
    let (p, _) = Dialplan::load(common::repo_file("tests/fixtures/extensions-seed.conf")).unwrap();
    Arc::new(p)
}

#[test]
fn goto_gotoif_and_labels() {
    let p = plan(
        "[a]\n\
         exten => 1,1,Set(N=5)\n\
         same => n,GotoIf($[${N} > 3]?big:small)\n\
         same => n(small),Playback(small)\n\
         same => n,Hangup\n\
         same => n(big),Goto(b,go,1)\n\
         [b]\n\
         exten => go,1,Playback(b-${EXTEN}-${CONTEXT}-${PRIORITY})\n\
         same => n,Goto(done)\n\
         same => n(done),Hangup\n",
    );
    let mut host = MockHost::default();
    let mut call = interp(&p, "110");
    let end = block_on(call.run(&mut host, "a", "1", 1));
    assert_eq!(end, RunEnd::Hangup);
    assert_eq!(host.calls[0], ("Playback".into(), "b-go-b-1".into()));
    assert_eq!(host.apps(), vec!["Playback", "Hangup"]);
}

#[test]
fn gosub_arguments_and_return() {
    let p = plan(
        "[a]\n\
         exten => 1,1,Set(ARG1=outer)\n\
         same => n,Gosub(sub,s,1(x,y))\n\
         same => n,Playback(${GOSUB_RETVAL}-${ARG1}-${ARG2})\n\
         [sub]\n\
         exten => s,1,Playback(${ARG1}${ARG2})\n\
         same => n,Gosub(inner,1)\n\
         same => n,Return(r${ARG2})\n\
         exten => inner,1,Playback(deep${ARG1})\n\
         same => n,Return()\n",
    );
    let mut host = MockHost::default();
    let mut call = interp(&p, "110");
    let end = block_on(call.run(&mut host, "a", "1", 1));
    let args: Vec<&str> = host.calls.iter().map(|(_, a)| a.as_str()).collect();
    // ARG1 inside the inner Gosub has no arguments: empty; outer values restored after.
    assert_eq!(args, vec!["xy", "deep", "ry-outer-"]);
    assert!(matches!(end, RunEnd::FellOffEnd(ref l) if l.exten == "1" && l.priority == 4));
}

#[test]
fn return_without_gosub_fails() {
    let p = plan("[a]\nexten => 1,1,Return()\n");
    let mut call = interp(&p, "1");
    let end = block_on(call.run(&mut MockHost::default(), "a", "1", 1));
    assert_eq!(end, RunEnd::Failed("Return without Gosub".into()));
    assert_eq!(
        call.diagnostics()[0].to_string(),
        "test.conf:2: error: Return without Gosub"
    );
}

#[test]
fn macro_arguments_exit_and_restore() {
    let p = plan(
        "[a]\n\
         exten => 7,1,Macro(m,one,two)\n\
         same => n,Playback(after-${ARG1}-${MACRO_EXTEN})\n\
         [macro-m]\n\
         exten => s,1,Playback(${ARG1}-${ARG2}-${MACRO_EXTEN}-${MACRO_CONTEXT}-${EXTEN}-${CONTEXT})\n\
         same => n,MacroExit()\n\
         same => n,Playback(never)\n",
    );
    let mut host = MockHost::default();
    let mut call = interp(&p, "110");
    block_on(call.run(&mut host, "a", "7", 1));
    let args: Vec<&str> = host.calls.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(args, vec!["one-two-7-a-s-macro-m", "after--"]);
}

#[test]
fn macro_falling_off_its_end_returns() {
    let p = plan("[a]\nexten => 7,1,Macro(m)\nsame => n,Playback(back)\n[macro-m]\nexten => s,1,Playback(in)\n");
    let mut host = MockHost::default();
    block_on(interp(&p, "1").run(&mut host, "a", "7", 1));
    assert_eq!(
        host.calls
            .iter()
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>(),
        vec!["in", "back"]
    );
}

#[test]
fn builtin_user_callerid_and_feature_codes_7791_7792() {
    let p = seed();
    let mut host = MockHost::default();
    let mut call = interp(&p, "110");
    let end = block_on(call.run(&mut host, "app-chanspy-set-on", "7791", 1));
    assert_eq!(end, RunEnd::Hangup);
    assert_eq!(call.chan().get("AMPUSER"), Some("110"));
    assert_eq!(
        host.db
            .get(&("spygrp".into(), "110".into()))
            .map(String::as_str),
        Some("spyon")
    );
    assert_eq!(host.apps(), vec!["Answer", "Wait", "Playback", "Hangup"]);

    let mut call = interp(&p, "110");
    block_on(call.run(&mut host, "app-chanspy-set-off", "7792", 1));
    assert!(host.db.is_empty());
}

#[test]
fn listen_code_strips_its_prefix() {
    let p = seed();
    let mut host = MockHost::default();
    block_on(interp(&p, "200").run(&mut host, "ext-local-custom", "*222110", 1));
    assert!(
        host.calls.contains(&("ChanSpy".into(), "sip/110,q".into())),
        "{:?}",
        host.calls
    );
    let mut host = MockHost::default();
    block_on(interp(&p, "200").run(&mut host, "ext-local-custom", "*224115", 1));
    assert!(host
        .calls
        .contains(&("ChanSpy".into(), "SIP/115,qB".into())));
}

#[test]
fn seed_line_60_still_runs_like_asterisk_with_a_warning() {
    let p = seed();
    let mut host = MockHost::default();
    host.put("spygrp", "110", "spyon");
    let mut call = interp(&p, "110");
    block_on(call.run(&mut host, "ext-local-custom", "s", 1));
    // Asterisk reads the unclosed `${DB(` to the end of the text: the lookup works.
    assert_eq!(call.chan().get("GROUP"), Some("spyon"));
    let d = &call.diagnostics()[0];
    assert_eq!(d.origin.line, 60);
    assert!(d.message.contains("missing '}'"), "{d}");
    // The seed's GotoIf is inverted (`?:continue` jumps away exactly when GROUP
    // is set), so as in Asterisk SPYGROUP is never set. The shipped config fixes it.
    assert_eq!(call.chan().get("SPYGROUP"), None);
}

#[test]
fn shipped_ext_local_custom_s_sets_spygroup_when_opted_in() {
    let p = shipped();
    let mut host = MockHost::default();
    host.put("spygrp", "110", "spyon");
    let mut call = interp(&p, "110");
    block_on(call.run(&mut host, "ext-local-custom", "s", 1));
    assert_eq!(call.chan().get("SPYGROUP"), Some("spyon"));
    assert!(call.diagnostics().is_empty(), "{:?}", call.diagnostics());
    let mut call = interp(&p, "111");
    block_on(call.run(&mut host, "ext-local-custom", "s", 1));
    assert_eq!(call.chan().get("SPYGROUP"), None);
}

#[test]
fn agi_fails_the_call_with_a_reason() {
    let p = seed();
    let mut host = MockHost::default();
    let mut call = interp(&p, "0212345678");
    call.chan_mut().set("ARG3", "150");
    let end = block_on(call.run(&mut host, "macro-dial", "s", 1));
    assert_eq!(
        end,
        RunEnd::Failed("application AGI is not available in spygroup".into())
    );
    assert_eq!(call.diagnostics().last().unwrap().origin.line, 93);
    // The seed's own range check (>110, <=201) marked 150.
    assert_eq!(call.chan().get("SPYGROUP"), Some("spygrp"));
}

fn inbound(to: &str, host: &mut MockHost) -> Option<String> {
    let p = shipped();
    let mut call = interp(&p, "0212345678");
    let end = block_on(call.run(host, "from-trunk", to, 1));
    assert_eq!(end, RunEnd::Hangup);
    assert_eq!(
        host.calls.iter().find(|(a, _)| a == "Dial").unwrap().1,
        format!("SIP/{to},30,")
    );
    host.dialled
        .last()
        .unwrap()
        .get("SPYGROUP")
        .map(str::to_string)
}

#[test]
fn inbound_range_110_to_160_inclusive_is_inherited_by_the_agent_leg() {
    for (to, marked) in [
        ("109", false),
        ("110", true),
        ("150", true),
        ("160", true),
        ("161", false),
        ("1500", false),
    ] {
        let mut host = MockHost::default();
        assert_eq!(inbound(to, &mut host).is_some(), marked, "extension {to}");
    }
    let mut host = MockHost::default();
    assert_eq!(inbound("110", &mut host).as_deref(), Some("spygrp"));
    // The callee inherits with `__`, so a channel it creates inherits again.
    let leg = host.dialled.last().unwrap();
    assert_eq!(leg.child("SIP/x-2", "3").get("SPYGROUP"), Some("spygrp"));
}

#[test]
fn inbound_range_comes_from_the_database() {
    let mut host = MockHost::default();
    host.put("spygroup", "monitor_low", "200");
    host.put("spygroup", "monitor_high", "210");
    assert!(inbound("150", &mut host).is_none());
    let mut host = MockHost::default();
    host.put("spygroup", "monitor_low", "200");
    host.put("spygroup", "monitor_high", "210");
    assert!(inbound("205", &mut host).is_some());
}

#[test]
fn internal_calls_dial_the_extension_and_carry_the_callers_opt_in() {
    let p = shipped();
    let mut host = MockHost::default();
    host.put("spygrp", "110", "spyon");
    let mut call = interp(&p, "110");
    let end = block_on(call.run(&mut host, "from-internal", "120", 1));
    assert_eq!(end, RunEnd::Hangup);
    assert_eq!(host.calls[0], ("Dial".into(), "SIP/120,30".into()));
    assert_eq!(call.chan().get("SPYGROUP"), Some("spyon"));
    assert_eq!(call.chan().get("DIALSTATUS"), Some("ANSWER"));
}

#[test]
fn digits_go_to_the_extension_or_i_and_timeouts_to_t() {
    let p = seed();
    // Background: caller types 111 → ChanSpy(SIP/111).
    let mut host = MockHost::default().answer("Background", &[AppOutcome::Digits("111".into())]);
    block_on(interp(&p, "200").run(&mut host, "chanspy-ext", "s", 1));
    assert_eq!(host.apps(), vec!["Background", "ChanSpy"]);
    assert_eq!(host.calls[1].1, "SIP/111");

    // Wrong number → i (invalid, back to s), then a WaitExten timeout → t, then hang up.
    let mut host = MockHost::default()
        .answer(
            "Background",
            &[
                AppOutcome::Digits("999".into()),
                AppOutcome::Continue,
                AppOutcome::Hangup,
            ],
        )
        .answer("WaitExten", &[AppOutcome::Timeout]);
    let mut call = interp(&p, "200");
    let end = block_on(call.run(&mut host, "chanspy-ext", "s", 1));
    assert_eq!(end, RunEnd::Hangup);
    assert_eq!(
        host.apps(),
        vec![
            "Background",
            "Playback",
            "Background",
            "WaitExten",
            "Playback",
            "Background"
        ]
    );
    assert_eq!(call.chan().get("INVALID_EXTEN"), Some("999"));
}

#[test]
fn digits_without_i_and_timeout_without_t() {
    let p = plan("[a]\nexten => s,1,WaitExten(5)\nexten => 5,1,Playback(five)\n");
    let mut host = MockHost::default().answer("WaitExten", &[AppOutcome::Digits("6".into())]);
    let end = block_on(interp(&p, "1").run(&mut host, "a", "s", 1));
    assert!(
        matches!(end, RunEnd::Failed(ref m) if m.contains("no 'i'")),
        "{end:?}"
    );
    let mut host = MockHost::default().answer("WaitExten", &[AppOutcome::Timeout]);
    let end = block_on(interp(&p, "1").run(&mut host, "a", "s", 1));
    assert_eq!(end, RunEnd::Hangup);
}

#[test]
fn a_transfer_moves_the_channel_out_of_its_macro_to_the_target() {
    // A blind transfer ends the Dial inside [macro-dial] with a Goto: the channel
    // goes on at 120 in the transferer's context, and never back into the macro.
    let p = plan(
        "[from-trunk]\n\
         exten => 110,1,Macro(dial,110)\n\
         same => n,Playback(after-macro)\n\
         [macro-dial]\n\
         exten => s,1,Dial(SIP/${ARG1})\n\
         same => n,Playback(in-macro)\n\
         [from-internal]\n\
         exten => 120,1,Dial(SIP/120)\n\
         same => n,Hangup\n",
    );
    let mut host = MockHost::default().answer(
        "Dial",
        &[
            AppOutcome::Goto {
                context: "from-internal".into(),
                exten: "120".into(),
            },
            AppOutcome::Continue,
        ],
    );
    let end = block_on(interp(&p, "5551234").run(&mut host, "from-trunk", "110", 1));
    assert_eq!(end, RunEnd::Hangup);
    assert_eq!(
        host.apps(),
        vec!["Dial", "Dial", "Hangup"],
        "no Playback: the macro is left"
    );
    assert_eq!(host.calls[1].1, "SIP/120");

    // A target that does not exist fails the call, saying why.
    let mut host = MockHost::default().answer(
        "Dial",
        &[AppOutcome::Goto {
            context: "from-internal".into(),
            exten: "999".into(),
        }],
    );
    let end = block_on(interp(&p, "5551234").run(&mut host, "from-trunk", "110", 1));
    assert!(
        matches!(end, RunEnd::Failed(ref m) if m.contains("999@from-internal")),
        "{end:?}"
    );
}

#[test]
fn h_runs_after_hangup_and_autofallthrough() {
    let p = plan(
        "[a]\n\
         exten => 1,1,Playback(x)\n\
         exten => 2,1,Hangup\n\
         exten => h,1,Playback(bye-${EXTEN})\n\
         same => n,Playback(bye2)\n",
    );
    let mut host = MockHost::default();
    let end = block_on(interp(&p, "1").run(&mut host, "a", "1", 1));
    assert!(matches!(end, RunEnd::FellOffEnd(ref l) if l.priority == 2));
    assert_eq!(
        host.calls
            .iter()
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>(),
        vec!["x", "bye-h", "bye2"]
    );

    let mut host = MockHost::default().answer("Playback", &[AppOutcome::Hangup]);
    let end = block_on(interp(&p, "1").run(&mut host, "a", "1", 1));
    assert_eq!(end, RunEnd::Hangup);
    // The caller hung up during Playback(x); h still runs.
    assert_eq!(
        host.calls
            .iter()
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>(),
        vec!["x", "bye-h", "bye2"]
    );
}

#[test]
fn unknown_start_goes_to_i_or_fails() {
    let p = plan("[a]\nexten => i,1,Playback(inv-${INVALID_EXTEN})\n[b]\nexten => 1,1,NoOp\n");
    let mut host = MockHost::default();
    block_on(interp(&p, "1").run(&mut host, "a", "42", 1));
    assert_eq!(host.calls[0].1, "inv-42");
    let end = block_on(interp(&p, "1").run(&mut MockHost::default(), "b", "42", 1));
    assert!(matches!(end, RunEnd::Failed(ref m) if m.contains("no extension 42 in [b]")));
    let end = block_on(interp(&p, "1").run(&mut MockHost::default(), "nope", "1", 1));
    assert!(matches!(end, RunEnd::Failed(ref m) if m.contains("no context [nope]")));
}

#[test]
fn goto_loops_are_stopped() {
    let p =
        plan("[a]\nexten => 1,1,Set(N=0)\nsame => n(top),Set(N=$[${N}+1])\nsame => n,Goto(top)\n");
    let mut call = interp(&p, "1").with_limits(Limits {
        max_steps: 1_000_000,
        max_steps_without_host: 50,
    });
    let end = block_on(call.run(&mut MockHost::default(), "a", "1", 1));
    assert!(
        matches!(end, RunEnd::Failed(ref m) if m.contains("seems to loop")),
        "{end:?}"
    );
    assert_eq!(call.chan().get("N"), Some("25"));

    // A loop that calls the host is bounded by the total budget.
    let p = plan("[a]\nexten => 1,1,Playback(x)\nsame => n,Goto(1,1)\n");
    let mut call = interp(&p, "1").with_limits(Limits {
        max_steps: 100,
        max_steps_without_host: 50,
    });
    let mut host = MockHost::default();
    let end = block_on(call.run(&mut host, "a", "1", 1));
    assert!(matches!(end, RunEnd::Failed(_)));
    assert_eq!(host.calls.len(), 50);
}

#[test]
fn goto_to_a_missing_label_fails_clearly() {
    let p = plan("[a]\nexten => 1,1,Goto(${X}nowhere)\n");
    let end = block_on(interp(&p, "1").run(&mut MockHost::default(), "a", "1", 1));
    assert!(
        matches!(end, RunEnd::Failed(ref m) if m.contains("neither a number nor a label")),
        "{end:?}"
    );
}

#[test]
fn execif_mset_and_dbdeltree() {
    let p = plan(
        "[a]\n\
         exten => 1,1,MSet(A=1,B=two)\n\
         same => n,ExecIf($[${A} = 1]?Playback(${B}):Playback(no))\n\
         same => n,ExecIf($[${A} = 2]?Playback(yes):Playback(else))\n\
         same => n,DBdeltree(fam)\n",
    );
    let mut host = MockHost::default();
    host.put("fam", "k", "v");
    host.put("fam/sub", "k", "v");
    host.put("other", "k", "v");
    block_on(interp(&p, "1").run(&mut host, "a", "1", 1));
    assert_eq!(
        host.calls
            .iter()
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>(),
        vec!["two", "else"]
    );
    assert_eq!(host.db.len(), 1);
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let p = plan("[a]\nexten => 1,1,NoOp\n");
    let mut call = interp(&p, "1");
    let mut host = MockHost::default();
    assert_send(call.run(&mut host, "a", "1", 1));
}

/// A loop that warns on every step keeps a bounded number of warnings (the log
/// has them all) and still ends with its error.
#[test]
fn a_warning_on_every_step_is_kept_a_bounded_number_of_times() {
    let p = plan("[a]\nexten => 1,1,Playback($[x + 1])\nsame => n,Goto(1,1)\n");
    let mut call = interp(&p, "1").with_limits(Limits {
        max_steps: 20_000,
        max_steps_without_host: 50,
    });
    let end = block_on(call.run(&mut MockHost::default(), "a", "1", 1));
    assert!(matches!(end, RunEnd::Failed(ref m) if m.contains("seems to loop")));
    assert!(
        call.diagnostics().len() <= 1001,
        "{}",
        call.diagnostics().len()
    );
    assert!(call
        .diagnostics()
        .last()
        .unwrap()
        .to_string()
        .contains("seems to loop"));
}
