//! Parsing, diagnostics with file:line, the seed fixture and the shipped config.

mod common;

use dialplan::{Dialplan, LoadOptions, Severity};

fn load(text: &str) -> (Dialplan, Vec<String>) {
    let (plan, diags) = Dialplan::parse_str("t.conf", text, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{:?}", e.diagnostics));
    (plan, diags.iter().map(|d| d.to_string()).collect())
}

fn errors(text: &str) -> Vec<String> {
    match Dialplan::parse_str("t.conf", text, &LoadOptions::default()) {
        Ok(_) => panic!("expected a failed load"),
        Err(e) => e
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect(),
    }
}

#[test]
fn syntax_features() {
    let (plan, diags) = load(
        "; comment\n\
         [globals]\n\
         A=1\n\
         \n\
         [one]\n\
         exten => 100,1,Answer ; trailing comment\n\
         exten = 100,n(lbl),NoOp(semi\\;colon)\n\
         same => n,Hangup()\n\
         \texten   =>   _X.  ,  1  ,  Dial(SIP/${EXTEN},30)\n\
         include => two\n\
         ;-- a block\n\
         comment --;\n\
         [two]\n\
         exten => 200,1,NoOp\n\
         [one]\n\
         exten => 101,1,Wait,1\n",
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(plan.globals(), &[("A".to_string(), "1".to_string())]);
    let one = plan.context("one").unwrap();
    assert_eq!(one.includes[0].context, "two");
    let p = plan.find("one", "100", 2).unwrap();
    assert_eq!(p.label.as_deref(), Some("lbl"));
    assert_eq!(p.args, "semi;colon");
    assert_eq!(p.origin.line, 7);
    assert_eq!(plan.find("one", "100", 3).unwrap().app, "Hangup");
    let d = plan.find("one", "555", 1).unwrap();
    assert_eq!(
        (d.app.as_str(), d.args.as_str()),
        ("Dial", "SIP/${EXTEN},30")
    );
    // The second [one] section merged into the first; old App,args form.
    let w = plan.find("one", "101", 1).unwrap();
    assert_eq!((w.app.as_str(), w.args.as_str()), ("Wait", "1"));
    // Through the include.
    assert!(plan.exists("one", "200"));
    assert!(!plan.exists("two", "100"));
}

#[test]
fn next_priority_follows_the_previous_line_like_asterisk() {
    let (plan, _) = load(
        "[c]\nexten => 1,1,NoOp\nexten => 1,n,NoOp\nexten => 1,n(x),NoOp\nexten => 1,x,NoOp\n",
    );
    // `x` as a priority names the label's priority: a duplicate of 3.
    assert_eq!(plan.find("c", "1", 3).unwrap().label.as_deref(), Some("x"));
    let (_, diags) = load("[c]\nexten => 1,1,NoOp\nexten => 1,1,NoOp\n");
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0].starts_with("t.conf:3: warning: duplicate priority 1,1"),
        "{diags:?}"
    );
}

#[test]
fn warnings_carry_file_and_line() {
    let (_, diags) = load(
        "[c]\n\
         exten => 1,1,AGI(x.agi)\n\
         exten => 1,3,NoOp\n\
         exten => 2,1,Goto(nolabel)\n\
         exten => 3,1,Goto(c,1,1)\n\
         exten => 4,1,Goto(nowhere,s,1)\n\
         exten => 5,1,GotoIf($[1]?ok:bad)\n\
         exten => 5,n(ok),NoOp(${A)\n\
         exten => 6,1,Macro(missing)\n\
         exten => 7,1,Goto(${DEST},1)\n\
         include => ghost\n",
    );
    let want = [
        "t.conf:2: warning: unknown application AGI",
        "t.conf:3: warning: priority 1,3 follows a gap (no priority 2)",
        "t.conf:4: warning: Goto(nolabel): no label nolabel",
        "t.conf:6: warning: Goto(nowhere,s,1): no context [nowhere]",
        "t.conf:7: warning: GotoIf(bad): no label bad",
        "t.conf:8: warning: in the arguments of NoOp: '${' at column 1 is never closed",
        "t.conf:9: warning: Macro(missing): no context [macro-missing]",
        "t.conf:11: warning: include => ghost: no such context",
    ];
    for w in want {
        assert!(
            diags.iter().any(|d| d.starts_with(w)),
            "missing {w:?} in {diags:#?}"
        );
    }
    // Goto(c,1,1) resolves; Goto(${DEST},1) is not literal: no warning for lines 5 and 10.
    assert!(!diags
        .iter()
        .any(|d| d.starts_with("t.conf:5:") || d.starts_with("t.conf:10:")));
    assert_eq!(diags.len(), want.len(), "{diags:#?}");
}

#[test]
fn host_supplied_application_list() {
    let opts = LoadOptions {
        known_apps: Some(vec!["Answer".into(), "AGI".into()]),
    };
    let (_, diags) = Dialplan::parse_str(
        "t.conf",
        "[c]\nexten => 1,1,AGI(x)\nexten => 1,2,Set(A=1)\nexten => 1,3,Dial(x)\n",
        &opts,
    )
    .unwrap();
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].message.contains("unknown application Dial"));
}

#[test]
fn fatal_errors() {
    let e = errors("[c]\nexten => 100\n");
    assert!(
        e[0].starts_with("t.conf:2: error: malformed exten line"),
        "{e:?}"
    );
    let e = errors("[c]\nexten => 100,1\n");
    assert!(e[0].starts_with("t.conf:2: error:"), "{e:?}");
    let e = errors("exten => 1,1,NoOp\n");
    assert!(e[0].contains("before any [context]"), "{e:?}");
    let e = errors("[c]\nexten => 1,n,NoOp\n");
    assert!(e[0].contains("needs an exten line before it"), "{e:?}");
    let e = errors("[c]\nsame => n,NoOp\n");
    assert!(e[0].contains("same =>"), "{e:?}");
    let e = errors("[c]\nexten => 1,0,NoOp\n");
    assert!(e[0].contains("1 or more"), "{e:?}");
    let e = errors("[c\n");
    assert!(e[0].contains("no closing ']'"), "{e:?}");
    let e = errors("[c]\n#include \"/nonexistent/file.conf\"\n");
    assert!(
        e[0].starts_with("t.conf:2: error: cannot read included file"),
        "{e:?}"
    );
    let e = errors("[c]\nexten => 1,1(lbl,NoOp\n");
    assert!(!e.is_empty());
}

#[test]
fn includes_are_relative_and_loops_fail() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(
        dir.path().join("main.conf"),
        "[c]\nexten => 1,1,NoOp\n#include \"sub/a.conf\"\n#include sub/a2.conf\n",
    )
    .unwrap();
    std::fs::write(sub.join("a.conf"), "exten => 2,1,NoOp\n#include b.conf\n").unwrap();
    std::fs::write(sub.join("b.conf"), "[d]\nexten => 3,1,Frobnicate\n").unwrap();
    std::fs::write(sub.join("a2.conf"), "[e]\nexten => 4,1,NoOp\n").unwrap();
    let (plan, diags) = Dialplan::load(dir.path().join("main.conf")).unwrap();
    assert!(plan.exists("c", "2"));
    assert!(plan.exists("d", "3"));
    assert!(plan.exists("e", "4"));
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].origin.file, sub.join("b.conf"));
    assert_eq!(diags[0].origin.line, 2);

    std::fs::write(sub.join("b.conf"), "#include a.conf\n").unwrap();
    let err = Dialplan::load(dir.path().join("main.conf")).unwrap_err();
    assert!(err.to_string().contains("#include loop"), "{err}");
    assert_eq!(err.diagnostics[0].origin.file, sub.join("b.conf"));

    let err = Dialplan::load(dir.path().join("missing.conf")).unwrap_err();
    assert!(
        err.to_string().contains("cannot read the dialplan"),
        "{err}"
    );
}

#[test]
fn the_seed_loads_with_its_expected_warnings() {
    let path = common::repo_file("tests/fixtures/extensions-seed.conf");
    let (plan, diags) = Dialplan::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<(usize, &str)> = diags
        .iter()
        .map(|d| (d.origin.line, d.message.as_str()))
        .collect();
    assert!(diags.iter().all(|d| d.severity == Severity::Warning));
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 60 && m.contains("'${' at column 7 is never closed")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 93 && m.contains("unknown application AGI")),
        "{lines:#?}"
    );
    // Nothing else is wrong with the seed: Macro(user-callerid) is built in,
    // GotoIf labels exist, NoOP is NoOp, DBDel is DBdel.
    assert_eq!(diags.len(), 2, "{lines:#?}");
    // The two [app-chanspy] sections merged; the patterns match as the seed means.
    assert!(plan.exists("app-chanspy", "779") && plan.exists("app-chanspy", "778"));
    assert!(plan.exists("ext-local-custom", "*222110"));
    assert!(plan.exists("ext-local-custom", "*22411"));
    assert!(!plan.exists("ext-local-custom", "*2241"));
    assert!(!plan.exists("ext-local-custom", "*222"));
    assert_eq!(plan.find_label("macro-dial", "s", "spy").unwrap().number, 4);
}

#[test]
fn the_shipped_config_loads_clean() {
    let path = common::repo_file("config/extensions.conf");
    let (plan, diags) = Dialplan::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        diags.is_empty(),
        "{:#?}",
        diags.iter().map(|d| d.to_string()).collect::<Vec<_>>()
    );
    for (ctx, exten) in [
        ("from-internal", "110"),
        ("from-internal", "*222110"),
        ("from-internal", "*223110"),
        ("from-internal", "*224110"),
        ("from-internal", "779"),
        ("from-internal", "778"),
        ("from-internal", "7791"),
        ("from-internal", "7792"),
        ("from-trunk", "150"),
    ] {
        assert!(plan.exists(ctx, exten), "{exten}@{ctx}");
    }
    // Feature codes win over the catch-all dialling pattern.
    assert_eq!(plan.find("from-internal", "7791", 1).unwrap().app, "Answer");
}
