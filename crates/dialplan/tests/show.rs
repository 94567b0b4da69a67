//! `dialplan show` output.

mod common;

#[test]
fn show_context_like_asterisk() {
    let p = common::plan(
        "[app-chanspy-set-on]\n\
         exten => 7791,1,Answer\n\
         same => n(x),Wait(1)\n\
         include => other\n\
         [other]\n\
         exten => _7X.,1,NoOp(o)\n",
    );
    let out = p.show("app-chanspy-set-on", None);
    let want = "[ Context 'app-chanspy-set-on' created by 'pbx_config' ]\n  \
'7791' =>         1. Answer()                                   [test.conf:2]\n  \
[x]               2. Wait(1)                                    [test.conf:3]\n  \
Include =>        'other'                                       [pbx_config]\n\
\n\
-= 1 extension (2 priorities) in 1 context. =-\n";
    assert_eq!(out, want);

    let out = p.show("app-chanspy-set-on", Some("7791"));
    assert!(
        out.contains("[ Included context 'other' created by 'pbx_config' ]"),
        "{out}"
    );
    assert!(out.contains("'_7X.' =>"), "{out}");
    assert!(
        out.ends_with("-= 2 extensions (3 priorities) in 2 contexts. =-\n"),
        "{out}"
    );

    assert_eq!(
        p.show("nope", None),
        "There is no existence of 'nope' context\n"
    );
    assert_eq!(
        p.show("other", Some("123")),
        "There is no existence of 123@other extension\n"
    );
    assert!(p.show("", None).contains("[ Context 'other'"));
}
