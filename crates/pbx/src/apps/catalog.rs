//! The applications the PBX runs (besides the interpreter's own control flow), as
//! one enum parsed once per step. Its names are what the dialplan loader is told
//! the host implements, so `spygroup dialplan check`, a reload and the engine can
//! never disagree about what exists.

/// One PBX application, by its Asterisk name (compared without case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    Answer,
    Hangup,
    Wait,
    NoCdr,
    Ringing,
    Progress,
    Busy,
    Congestion,
    Playback,
    Background,
    WaitExten,
    Read,
    SayDigits,
    Playtones,
    StopPlaytones,
    Echo,
    SetMusicOnHold,
    MusicOnHold,
    MixMonitor,
    StopMixMonitor,
    Authenticate,
    Dial,
    Transfer,
    ConfBridge,
    ChanSpy,
    ExtenSpy,
    Queue,
    AddQueueMember,
    RemoveQueueMember,
    PauseQueueMember,
    UnpauseQueueMember,
}

impl App {
    pub const ALL: [App; 31] = [
        App::Answer,
        App::Hangup,
        App::Wait,
        App::NoCdr,
        App::Ringing,
        App::Progress,
        App::Busy,
        App::Congestion,
        App::Playback,
        App::Background,
        App::WaitExten,
        App::Read,
        App::SayDigits,
        App::Playtones,
        App::StopPlaytones,
        App::Echo,
        App::SetMusicOnHold,
        App::MusicOnHold,
        App::MixMonitor,
        App::StopMixMonitor,
        App::Authenticate,
        App::Dial,
        App::Transfer,
        App::ConfBridge,
        App::ChanSpy,
        App::ExtenSpy,
        App::Queue,
        App::AddQueueMember,
        App::RemoveQueueMember,
        App::PauseQueueMember,
        App::UnpauseQueueMember,
    ];

    /// The name as Asterisk writes it.
    pub fn name(self) -> &'static str {
        match self {
            App::Answer => "Answer",
            App::Hangup => "Hangup",
            App::Wait => "Wait",
            App::NoCdr => "NoCDR",
            App::Ringing => "Ringing",
            App::Progress => "Progress",
            App::Busy => "Busy",
            App::Congestion => "Congestion",
            App::Playback => "Playback",
            App::Background => "Background",
            App::WaitExten => "WaitExten",
            App::Read => "Read",
            App::SayDigits => "SayDigits",
            App::Playtones => "Playtones",
            App::StopPlaytones => "StopPlaytones",
            App::Echo => "Echo",
            App::SetMusicOnHold => "SetMusicOnHold",
            App::MusicOnHold => "MusicOnHold",
            App::MixMonitor => "MixMonitor",
            App::StopMixMonitor => "StopMixMonitor",
            App::Authenticate => "Authenticate",
            App::Dial => "Dial",
            App::Transfer => "Transfer",
            App::ConfBridge => "ConfBridge",
            App::ChanSpy => "ChanSpy",
            App::ExtenSpy => "ExtenSpy",
            App::Queue => "Queue",
            App::AddQueueMember => "AddQueueMember",
            App::RemoveQueueMember => "RemoveQueueMember",
            App::PauseQueueMember => "PauseQueueMember",
            App::UnpauseQueueMember => "UnpauseQueueMember",
        }
    }

    /// The application a dialplan line names, in any case (`NoOP`, `stopplaytones`).
    pub fn parse(name: &str) -> Option<App> {
        App::ALL
            .into_iter()
            .find(|a| dialplan::same_app(a.name(), name.trim()))
    }
}

/// What the dialplan loader is told: the host runs these.
pub fn load_options() -> dialplan::LoadOptions {
    dialplan::LoadOptions {
        known_apps: Some(App::ALL.iter().map(|a| a.name().to_string()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_in_any_case() {
        for a in App::ALL {
            assert_eq!(App::parse(a.name()), Some(a));
            assert_eq!(App::parse(&a.name().to_uppercase()), Some(a));
        }
        assert_eq!(App::parse("StopPlayTones"), Some(App::StopPlaytones));
        assert_eq!(App::parse("AGI"), None);
    }

    /// The dialplan crate's own default list (for loads without a host) must name
    /// exactly what the PBX and the interpreter run.
    #[test]
    fn the_dialplan_crates_default_list_is_this_one() {
        let mut ours: Vec<String> = App::ALL
            .iter()
            .map(|a| a.name().to_ascii_lowercase())
            .chain(
                dialplan::INTERPRETER_APPS
                    .iter()
                    .map(|a| a.to_ascii_lowercase()),
            )
            .collect();
        let mut theirs: Vec<String> = dialplan::DEFAULT_APPS
            .iter()
            .map(|a| a.to_ascii_lowercase())
            .collect();
        ours.sort();
        ours.dedup();
        theirs.sort();
        theirs.dedup();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn stopplaytones_checks_clean() {
        let text = "[c]\nexten => 1,1,Playtones(440)\n same => n,StopPlayTones()\n";
        let (_, diags) = dialplan::Dialplan::parse_str("t.conf", text, &load_options()).unwrap();
        assert!(diags.is_empty(), "{diags:?}");
    }
}
