//! Application names: what the interpreter runs itself, and what spygroup's
//! PBX implements (the default list for the unknown-application warning).

/// Run by the interpreter (control flow, variables, logging, the database).
pub const INTERPRETER_APPS: &[&str] = &[
    "Set",
    "MSet",
    "Goto",
    "GotoIf",
    "Gosub",
    "GosubIf",
    "Return",
    "Macro",
    "MacroExit",
    "NoOp",
    "Verbose",
    "Log",
    "DBdel",
    "DBdeltree",
    "ExecIf",
];

/// Everything spygroup implements, interpreter and PBX together: what a load
/// without a host list checks against. The PBX tells its loads its own list
/// (`pbx::apps::App`), and a test there keeps this one equal to it.
pub const DEFAULT_APPS: &[&str] = &[
    "Answer",
    "Hangup",
    "Wait",
    "NoOp",
    "Verbose",
    "Log",
    "Set",
    "MSet",
    "Goto",
    "GotoIf",
    "Gosub",
    "GosubIf",
    "Return",
    "Macro",
    "MacroExit",
    "Playback",
    "Background",
    "WaitExten",
    "Read",
    "SayDigits",
    "Authenticate",
    "Dial",
    "Transfer",
    "ConfBridge",
    "NoCDR",
    "DBdel",
    "DBdeltree",
    "Progress",
    "Ringing",
    "Busy",
    "Congestion",
    "Playtones",
    "StopPlaytones",
    "Echo",
    "SetMusicOnHold",
    "MusicOnHold",
    "MixMonitor",
    "StopMixMonitor",
    "ChanSpy",
    "ExtenSpy",
    "ExecIf",
    "Queue",
    "AddQueueMember",
    "RemoveQueueMember",
    "PauseQueueMember",
    "UnpauseQueueMember",
];

/// Application names compare without regard to case, as in Asterisk
/// (`NoOP`, `DBDel` and `DBdel` are one application).
pub fn same_app(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether the interpreter runs `app` itself rather than the host.
pub fn is_interpreter_app(app: &str) -> bool {
    INTERPRETER_APPS.iter().any(|a| same_app(a, app))
}
