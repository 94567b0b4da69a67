//! ChanSpy's options and channel specs, parsed once per run.
//!
//! Options:
//! - targets: `b` bridged channels only, `e(ext:ext)` only these endpoints,
//!   `g(grp:grp)` only channels whose SPYGROUP shares a group, `Q(q:q)` only
//!   agents on a call of one of these queues (spygroup's: a scan over a queue);
//! - modes: `w` whisper, `W` private whisper (talk, hear nothing), `B` barge, `T`
//!   take the call over at once (spygroup's; Asterisk has none), `o` hear only the
//!   spied channel, `d` DTMF 4/5/6 switch listen/whisper/barge live and 7 takes
//!   the call over;
//! - flow: `E` exit when the spied channel hangs up, `S` stop when nothing is left,
//!   `F` follow the client when the spied channel transfers it away (spygroup's),
//!   `x(d)` exit on digit `d`, `X` a digit naming a one-digit extension of the
//!   current context leaves for it, `c(d)` next channel on `d` instead of `*`;
//! - other: `q`/`n` no beep and no announcement, `N` don't answer, `v(-4..4)` volume,
//!   `r(name)` record what the spy hears, `s` accepted (we never say the technology).

use media::mix::SpyMode;

/// Parsed ChanSpy options.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct SpyOptions {
    pub bridged_only: bool,
    pub mode: Option<SpyMode>,
    pub private_whisper: bool,
    pub dtmf_modes: bool,
    pub endpoints: Vec<String>,
    pub exit_on_hangup: bool,
    /// `F`: when the spied channel leaves, go on with whoever its peer (the client)
    /// talks to next (see `follow.rs`).
    pub follow_client: bool,
    pub groups: Vec<String>,
    /// `Q(q1:q2)`: only agents answering a call of one of these queues.
    pub queues: Vec<String>,
    pub quiet: bool,
    pub no_answer: bool,
    pub stop_when_none: bool,
    pub volume: i32,
    pub exit_digit: Option<char>,
    /// `r(name)`: record what the spy hears to `<recordings>/<name>-<ms>.wav`.
    pub record: Option<String>,
    /// `o`: hear only the spied channel, not its peer.
    pub one_way: bool,
    /// `c(d)`: the digit that moves to the next channel (default `*`).
    pub cycle_digit: Option<char>,
    /// `X`: a digit naming a one-digit extension of the current context leaves
    /// ChanSpy for it.
    pub exit_to_exten: bool,
    pub ignored: Vec<char>,
    /// The click-to-spy monitor this run belongs to (set by the API's path, never
    /// by an option letter).
    pub monitor: Option<String>,
}

/// Splits `gq(x)v(-2)` into options; unknown letters are kept to be warned about.
pub(crate) fn parse_options(s: &str) -> SpyOptions {
    let mut o = SpyOptions::default();
    for (c, arg) in crate::apps::letters::option_letters(s) {
        let arg = arg.unwrap_or_default();
        match c {
            'b' => o.bridged_only = true,
            'B' => o.mode = Some(SpyMode::Barge),
            'T' => o.mode = Some(SpyMode::Takeover),
            'w' => o.mode = Some(SpyMode::Whisper),
            'W' => {
                o.mode = Some(SpyMode::Whisper);
                o.private_whisper = true;
            }
            'd' => o.dtmf_modes = true,
            'e' => {
                o.endpoints = arg
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            'E' => o.exit_on_hangup = true,
            'F' => o.follow_client = true,
            'g' => {
                o.groups = arg
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            'Q' => {
                o.queues = arg
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            'q' | 'n' => o.quiet = true,
            'N' => o.no_answer = true,
            'S' => o.stop_when_none = true,
            'v' => o.volume = arg.trim().parse().unwrap_or(0),
            'x' => o.exit_digit = arg.chars().next(),
            'o' => o.one_way = true,
            'c' => o.cycle_digit = arg.chars().next(),
            'X' => o.exit_to_exten = true,
            // `s`: don't say the technology before the name: we never do.
            's' => {}
            'r' => {
                // A base name only: no path tricks into other directories.
                let name: String = arg
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    .collect();
                o.record = Some(if name.is_empty() {
                    "chanspy".into()
                } else {
                    name
                });
            }
            ' ' | ',' => {}
            other => o.ignored.push(other),
        }
    }
    o
}

/// Does a spy spec (`SIP/110`, `sip/110`, `PJSIP/110`, `SIP`, empty) name this
/// channel? The channel name is compared up to its `-`, case-insensitively, and the
/// technologies SIP and PJSIP are the same thing here.
pub(crate) fn spec_matches(spec: &str, channel: &str) -> bool {
    let spec = spec.trim();
    if spec.is_empty() || spec.eq_ignore_ascii_case(channel) {
        // Empty: every channel; a whole channel name (the API's click-to-spy): that one.
        return true;
    }
    let norm = |s: &str| -> String {
        let s = s.to_ascii_lowercase();
        match s.split_once('/') {
            Some((tech, rest)) if tech == "sip" || tech == "pjsip" => format!("sip/{rest}"),
            _ => s,
        }
    };
    let spec = norm(spec);
    let base = channel.rsplit_once('-').map_or(channel, |(b, _)| b);
    let base = norm(base);
    if spec == "sip" || spec == "sip/" {
        return base.starts_with("sip/");
    }
    base == spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_match_like_asterisk() {
        assert!(spec_matches("SIP/110", "SIP/110-0000001a"));
        assert!(spec_matches("sip/110", "SIP/110-0000001a"));
        assert!(spec_matches("PJSIP/110", "SIP/110-0000001a"));
        assert!(!spec_matches("SIP/110", "SIP/1100-0000001b"));
        assert!(!spec_matches("SIP/11", "SIP/110-0000001a"));
        assert!(spec_matches("", "SIP/110-0000001a"));
        assert!(spec_matches("SIP", "SIP/carrier-00000003"));
        assert!(spec_matches("SIP/110-0000001a", "SIP/110-0000001a"));
        assert!(!spec_matches("SIP/110-0000001a", "SIP/110-0000001b"));
    }

    #[test]
    fn options_parse() {
        let o = parse_options("qw");
        assert!(o.quiet);
        assert_eq!(o.mode, Some(SpyMode::Whisper));
        let o = parse_options("g(spygrp:vip)v(-2)x(9)EdSbqB");
        assert_eq!(o.groups, vec!["spygrp", "vip"]);
        assert_eq!(o.volume, -2);
        assert_eq!(o.exit_digit, Some('9'));
        assert!(o.exit_on_hangup && o.dtmf_modes && o.stop_when_none && o.bridged_only);
        assert_eq!(o.mode, Some(SpyMode::Barge));
        let o = parse_options("oc(9)Xs");
        assert!(o.one_way && o.exit_to_exten && o.ignored.is_empty());
        assert_eq!(o.cycle_digit, Some('9'));
        let o = parse_options("e(110:111)Zr(../rec)");
        assert_eq!(o.endpoints, vec!["110", "111"]);
        assert_eq!(o.ignored, vec!['Z']);
        assert_eq!(o.record.as_deref(), Some("rec"));
        let o = parse_options("qQ(sales:support)");
        assert_eq!(o.queues, vec!["sales", "support"]);
        assert!(o.quiet && o.ignored.is_empty());
    }
}
