//! `Queue()` and the member applications (`AddQueueMember`, `RemoveQueueMember`,
//! `PauseQueueMember`, `UnpauseQueueMember`), Asterisk-compatible.
//!
//! The caller's task only plays what the caller hears (music or ringing, the
//! position and hold-time prompts, the periodic announcement) and follows the
//! switch's queue events; who is rung, when and in which order is the floor's
//! business (`crate::queue`), in the switch.

use std::collections::VecDeque;
use std::time::Duration;

use dialplan::{AppOutcome, ChannelVars};
use media::{PlayEnd, Side};
use tokio::sync::oneshot;

use super::input::Either;
use super::PbxHost;
use crate::chan::{ChanEvent, DialStatus};
use crate::queue::{MemberChange, MemberResult};

/// `Queue()`'s options (the second argument).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Options {
    /// `r`: ringing instead of music while waiting.
    ringing: bool,
    /// `c`: go on in the dialplan after the answered call ends.
    continue_after: bool,
    /// `n`: no retry after the first ring times out.
    no_retry: bool,
    /// `H`: the caller may leave by pressing `*`.
    caller_hangup: bool,
    /// `h`: the agent may end the call by pressing `*`.
    agent_hangup: bool,
}

impl Options {
    /// Unknown letters are ignored, as Asterisk does. `t`, `T` (transfers) and
    /// `i` (ignore call forwarding) are accepted: phones' blind transfers are
    /// always followed and members' forwarding is never.
    fn parse(s: &str) -> Options {
        Options {
            ringing: s.contains('r'),
            continue_after: s.contains('c'),
            no_retry: s.contains('n'),
            caller_hangup: s.contains('H'),
            agent_hangup: s.contains('h'),
        }
    }
}

impl PbxHost {
    /// `Queue(name[,options[,URL[,announceoverride[,timeout]]]])`: waits in
    /// `name` until a member answers (then bridged until that call ends), the
    /// timeout passes or the queue empties; `QUEUESTATUS` says why it returned
    /// without an answer, `QUEUEPOSITION` where the caller joined. With
    /// `announceoverride`, the agent who answers hears that prompt first while
    /// the caller still hears music (Asterisk's member announcement). The URL is
    /// accepted and not sent: SIP phones have nowhere to show it.
    pub(super) async fn queue(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let name = a.first().copied().unwrap_or_default();
        if name.is_empty() {
            return AppOutcome::Fail("Queue() needs a queue name: Queue(support)".into());
        }
        let opts = Options::parse(a.get(1).copied().unwrap_or_default());
        let announce = a.get(3).copied().filter(|p| !p.is_empty());
        let timeout = a
            .get(4)
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .map(|t| Duration::from_secs_f64(t.min(86_400.0)));
        if opts.ringing {
            if !self.answered {
                self.chan.ringing();
            }
        } else if !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let joined = self
            .chan
            .queue_join(name, timeout, opts.no_retry, vars.inherited())
            .await;
        let position = match joined {
            Ok(p) => p,
            Err(status) => {
                tracing::info!(channel = %self.chan.name, queue = name, status = status.as_str(), "Queue: not joined");
                vars.set("QUEUESTATUS", status.as_str());
                return AppOutcome::Continue;
            }
        };
        vars.set("QUEUEPOSITION", &position.to_string());
        let mut waiting = Waiting::new(self, opts);
        waiting.hold(self);
        let mut transferred = None;
        let mut agent_dtmf = None;
        loop {
            let input = tokio::select! {
                end = waiting.playing(), if waiting.is_playing() => {
                    waiting.played(self, end);
                    continue;
                }
                d = agent_digit(&mut agent_dtmf) => {
                    if d == '*' {
                        tracing::info!(channel = %self.chan.name, "Queue: the agent ended the call (h)");
                        self.chan.hangup(None);
                        self.hung_up = true;
                        return AppOutcome::Hangup;
                    }
                    continue;
                }
                i = self.input.next_event(&mut self.chan) => i,
            };
            match input {
                Either::Digit('*') if opts.caller_hangup => {
                    self.chan.hangup(None);
                    self.hung_up = true;
                    return AppOutcome::Hangup;
                }
                Either::Digit(_) => {}
                Either::Event(ChanEvent::Hangup) => {
                    self.hung_up = true;
                    return AppOutcome::Hangup;
                }
                Either::Event(ChanEvent::QueueAnnounce { position, holdtime }) => {
                    waiting.say(self, announcement(position, holdtime));
                }
                Either::Event(ChanEvent::QueuePeriodic(prompt)) => {
                    waiting.say(self, vec![prompt]);
                }
                Either::Event(ChanEvent::QueueConnected { agent, channel }) => {
                    tracing::info!(channel = %self.chan.name, %agent, queue = name, "Queue: connected");
                    if let Some(prompt) = announce {
                        self.announce_to_agent(prompt).await;
                    }
                    waiting.stop(self);
                    self.media.set_local(self.side, false);
                    self.answered = true;
                    vars.set("MEMBERINTERFACE", &format!("SIP/{agent}"));
                    vars.set("MEMBERNAME", &agent);
                    vars.set("QUEUE_AGENT_CHANNEL", &channel);
                    if opts.agent_hangup && self.side == Side::A {
                        agent_dtmf = Some(self.media.dtmf(Side::B));
                    }
                }
                Either::Event(ChanEvent::QueueExit(status)) => {
                    waiting.stop(self);
                    tracing::info!(channel = %self.chan.name, queue = name, status = status.as_str(), "Queue: left unanswered");
                    vars.set("QUEUESTATUS", status.as_str());
                    return AppOutcome::Continue;
                }
                Either::Event(ChanEvent::Transferred(t)) => transferred = Some(t),
                Either::Event(ChanEvent::DialDone(outcome)) => {
                    if outcome.status == DialStatus::Cancel {
                        self.hung_up = true;
                        return AppOutcome::Hangup;
                    }
                    break;
                }
                Either::Event(_) => {}
            }
        }
        // The answered call ended.
        self.media.set_local(self.side, true);
        if let Some(t) = transferred.or_else(|| self.chan.take_transferred()) {
            tracing::info!(channel = %self.chan.name, by = %t.by, "Queue: transferred to {}@{}", t.exten, t.context);
            vars.set("BLINDTRANSFER", &t.by);
            return AppOutcome::Goto {
                context: t.context,
                exten: t.exten,
            };
        }
        if opts.continue_after {
            AppOutcome::Continue
        } else {
            self.chan.hangup(None);
            self.hung_up = true;
            AppOutcome::Hangup
        }
    }

    /// Plays `prompt` to the agent's phone (the other leg of this bridge) and
    /// waits for its end, at most 30 s; the caller's music goes on meanwhile.
    async fn announce_to_agent(&mut self, prompt: &str) {
        match self.env.prompts.open("en", prompt) {
            Ok(p) => {
                let done = self.media.play(self.side.other(), Box::new(p.player()));
                let _ = tokio::time::timeout(Duration::from_secs(30), done).await;
            }
            Err(e) => {
                tracing::warn!(channel = %self.chan.name, "Queue: cannot play {prompt:?} to the agent: {e}")
            }
        }
    }

    /// `AddQueueMember(queue[,interface[,penalty]])`: `AQMSTATUS` ADDED,
    /// MEMBERALREADY or NOSUCHQUEUE. The interface defaults to the caller's.
    pub(super) async fn add_queue_member(
        &mut self,
        args: &str,
        vars: &mut ChannelVars,
    ) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let Some((queue, extension)) = self.member_args(&a, 0, 1, "AddQueueMember") else {
            vars.set("AQMSTATUS", "NOSUCHQUEUE");
            return AppOutcome::Continue;
        };
        let penalty = a.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        let r = self
            .chan
            .queue_member(MemberChange::Add {
                queue: queue.unwrap_or_default(),
                extension,
                penalty,
            })
            .await;
        vars.set("AQMSTATUS", status(r, "ADDED", "MEMBERALREADY"));
        AppOutcome::Continue
    }

    /// `RemoveQueueMember(queue[,interface])`: `RQMSTATUS` REMOVED, NOTINQUEUE,
    /// NOSUCHQUEUE or NOTDYNAMIC (a static member stays).
    pub(super) async fn remove_queue_member(
        &mut self,
        args: &str,
        vars: &mut ChannelVars,
    ) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let Some((queue, extension)) = self.member_args(&a, 0, 1, "RemoveQueueMember") else {
            vars.set("RQMSTATUS", "NOSUCHQUEUE");
            return AppOutcome::Continue;
        };
        let r = self
            .chan
            .queue_member(MemberChange::Remove {
                queue: queue.unwrap_or_default(),
                extension,
            })
            .await;
        vars.set("RQMSTATUS", status(r, "REMOVED", "NOTINQUEUE"));
        AppOutcome::Continue
    }

    /// `PauseQueueMember([queue],interface[,options[,reason]])` and
    /// `UnpauseQueueMember(...)`: `PQMSTATUS`/`UPQMSTATUS` PAUSED/UNPAUSED or
    /// NOTFOUND. No queue: every queue the member is in.
    pub(super) async fn pause_queue_member(
        &mut self,
        args: &str,
        vars: &mut ChannelVars,
        paused: bool,
    ) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let app = if paused {
            "PauseQueueMember"
        } else {
            "UnpauseQueueMember"
        };
        let var = if paused { "PQMSTATUS" } else { "UPQMSTATUS" };
        let Some((queue, extension)) = self.member_args(&a, 0, 1, app) else {
            vars.set(var, "NOTFOUND");
            return AppOutcome::Continue;
        };
        let reason = a.get(3).copied().unwrap_or_default().to_string();
        let r = self
            .chan
            .queue_member(MemberChange::Pause {
                queue,
                extension,
                paused,
                reason,
            })
            .await;
        let done = if paused { "PAUSED" } else { "UNPAUSED" };
        let status = match r {
            MemberResult::Done => done,
            MemberResult::NoChange | MemberResult::NoSuchQueue | MemberResult::NotDynamic => {
                "NOTFOUND"
            }
        };
        vars.set(var, status);
        AppOutcome::Continue
    }

    /// The queue (None when empty) and the member's extension (from
    /// `SIP/<ext>`, or the caller's own when empty); None when unusable.
    fn member_args(
        &self,
        a: &[&str],
        queue_at: usize,
        iface_at: usize,
        app: &str,
    ) -> Option<(Option<String>, String)> {
        let queue = a
            .get(queue_at)
            .filter(|q| !q.is_empty())
            .map(|q| q.to_string());
        let iface = a.get(iface_at).copied().unwrap_or_default();
        let extension = if iface.is_empty() {
            self.chan.caller.endpoint.clone()
        } else {
            match iface.split_once('/') {
                Some((_, ext)) => ext.to_string(),
                None => iface.to_string(),
            }
        };
        if extension.is_empty() || (queue.is_none() && app.starts_with("AddQueue")) {
            tracing::warn!(channel = %self.chan.name, "{app}: needs a queue and a member (SIP/<extension>)");
            return None;
        }
        if queue.is_none() && app.starts_with("RemoveQueue") {
            tracing::warn!(channel = %self.chan.name, "{app}: needs a queue");
            return None;
        }
        Some((queue, extension))
    }
}

fn status(r: MemberResult, done: &'static str, no_change: &'static str) -> &'static str {
    match r {
        MemberResult::Done => done,
        MemberResult::NoChange => no_change,
        MemberResult::NoSuchQueue => "NOSUCHQUEUE",
        MemberResult::NotDynamic => "NOTDYNAMIC",
    }
}

async fn agent_digit(rx: &mut Option<tokio::sync::mpsc::UnboundedReceiver<char>>) -> char {
    match rx.as_mut() {
        Some(r) => match r.recv().await {
            Some(d) => d,
            None => {
                *rx = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// The prompts for a position and hold-time announcement, under Asterisk's
/// sound names.
fn announcement(position: Option<u32>, holdtime: Option<u64>) -> Vec<String> {
    let mut out = Vec::new();
    match position {
        Some(1) => out.push("queue-youarenext".to_string()),
        Some(p) => {
            out.push("queue-thereare".to_string());
            out.extend(number(u64::from(p)));
            out.push("queue-callswaiting".to_string());
        }
        None => {}
    }
    if let Some(secs) = holdtime {
        out.push("queue-holdtime".to_string());
        let minutes = secs.div_ceil(60);
        if secs < 60 {
            out.push("queue-less-than".to_string());
            out.extend(number(1));
            out.push("queue-minute".to_string());
        } else {
            out.extend(number(minutes));
            out.push(
                if minutes == 1 {
                    "queue-minute"
                } else {
                    "queue-minutes"
                }
                .to_string(),
            );
        }
    }
    if !out.is_empty() {
        out.push("queue-thankyou".to_string());
    }
    out
}

/// A number as spoken prompts (`digits/20`, `digits/3`), up to 999; larger ones
/// digit by digit.
fn number(n: u64) -> Vec<String> {
    if n >= 1000 {
        return n
            .to_string()
            .chars()
            .map(|d| format!("digits/{d}"))
            .collect();
    }
    let mut out = Vec::new();
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        out.push(format!("digits/{hundreds}"));
        out.push("digits/hundred".to_string());
    }
    if rest >= 20 {
        out.push(format!("digits/{}", rest / 10 * 10));
        if rest % 10 > 0 {
            out.push(format!("digits/{}", rest % 10));
        }
    } else if rest > 0 || hundreds == 0 {
        out.push(format!("digits/{rest}"));
    }
    out
}

/// What the waiting caller hears: music (or nothing, with ringing from the
/// phone), interrupted by prompts played one after another.
struct Waiting {
    opts: Options,
    prompts: VecDeque<String>,
    play: Option<oneshot::Receiver<PlayEnd>>,
    /// The music is what plays now (not a prompt).
    music: bool,
}

impl Waiting {
    fn new(_host: &PbxHost, opts: Options) -> Waiting {
        Waiting {
            opts,
            prompts: VecDeque::new(),
            play: None,
            music: false,
        }
    }

    fn is_playing(&self) -> bool {
        self.play.is_some()
    }

    async fn playing(&mut self) -> Result<PlayEnd, oneshot::error::RecvError> {
        match self.play.as_mut() {
            Some(rx) => rx.await,
            None => std::future::pending().await,
        }
    }

    /// Music on hold, unless the caller hears ringing (or is not answered).
    fn hold(&mut self, host: &mut PbxHost) {
        self.play = None;
        self.music = false;
        if self.opts.ringing || !host.answered {
            return;
        }
        let class = if host.music_class.is_empty() {
            crate::moh::DEFAULT_CLASS
        } else {
            host.music_class.as_str()
        };
        if let Some(music) = host.env.music.player(class) {
            self.play = Some(host.media.play(host.side, music));
            self.music = true;
        }
    }

    /// Prompts to play now (over the music, which comes back after them).
    fn say(&mut self, host: &mut PbxHost, prompts: Vec<String>) {
        if !host.answered {
            return;
        }
        let idle = self.music || self.play.is_none();
        self.prompts.extend(prompts);
        if idle {
            self.next(host);
        }
    }

    fn next(&mut self, host: &mut PbxHost) {
        while let Some(name) = self.prompts.pop_front() {
            match host.env.prompts.open("en", &name) {
                Ok(p) => {
                    self.play = Some(host.media.play(host.side, Box::new(p.player())));
                    self.music = false;
                    return;
                }
                Err(e) => {
                    tracing::warn!(channel = %host.chan.name, "Queue: cannot play {name:?}: {e}")
                }
            }
        }
        self.hold(host);
    }

    /// What played has ended.
    fn played(&mut self, host: &mut PbxHost, end: Result<PlayEnd, oneshot::error::RecvError>) {
        self.play = None;
        if end.is_err() {
            return;
        }
        self.next(host);
    }

    fn stop(&mut self, host: &mut PbxHost) {
        self.prompts.clear();
        self.play = None;
        self.music = false;
        host.media.stop_play(host.side);
    }
}

/// `QUEUE_WAITING_COUNT(queue)` and `QUEUE_MEMBER(queue,option)` (options
/// `logged`, `free`, `ready`, `count`, `paused`), read from the configuration
/// and the floor's live view.
pub(super) fn function(env: &super::AppEnv, name: &str, args: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let mut a = args.split(',').map(str::trim);
    let queue = a.next().unwrap_or_default();
    match upper.as_str() {
        "QUEUE_WAITING_COUNT" => {
            let n = env.floor.with(|f| {
                f.queues
                    .iter()
                    .find(|q| q.name == queue)
                    .map_or(0, |q| q.waiting.len())
            });
            Some(n.to_string())
        }
        "QUEUE_MEMBER" => {
            let option = a.next().unwrap_or_default().to_ascii_lowercase();
            let snapshot = env.config.snapshot();
            let members = snapshot.queue_members(queue);
            let state = |ext: &str| {
                env.floor.with(|f| {
                    f.agents
                        .iter()
                        .find(|x| x.extension == ext)
                        .map(|x| x.state)
                })
            };
            use model::AgentState::*;
            let n = members
                .iter()
                .filter(|m| match option.as_str() {
                    "count" => true,
                    "paused" => m.paused,
                    "logged" => !matches!(state(&m.extension), None | Some(LoggedOut)),
                    "free" => matches!(state(&m.extension), Some(Available)),
                    "ready" => !m.paused && matches!(state(&m.extension), Some(Available)),
                    _ => false,
                })
                .count();
            if !matches!(
                option.as_str(),
                "count" | "paused" | "logged" | "free" | "ready"
            ) {
                tracing::warn!(
                    "QUEUE_MEMBER({args}): option is one of logged, free, ready, count, paused"
                );
                return Some(String::new());
            }
            Some(n.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_announcements() {
        assert_eq!(number(7), ["digits/7"]);
        assert_eq!(number(0), ["digits/0"]);
        assert_eq!(number(15), ["digits/15"]);
        assert_eq!(number(42), ["digits/40", "digits/2"]);
        assert_eq!(number(300), ["digits/3", "digits/hundred"]);
        assert_eq!(number(118), ["digits/1", "digits/hundred", "digits/18"]);
        assert_eq!(
            announcement(Some(1), None),
            ["queue-youarenext", "queue-thankyou"]
        );
        assert_eq!(
            announcement(Some(3), Some(130)),
            [
                "queue-thereare",
                "digits/3",
                "queue-callswaiting",
                "queue-holdtime",
                "digits/3",
                "queue-minutes",
                "queue-thankyou"
            ]
        );
        assert!(announcement(None, None).is_empty());
        let o = Options::parse("rcnHh");
        assert!(o.ringing && o.continue_after && o.no_retry && o.caller_hangup && o.agent_hangup);
        assert_eq!(Options::parse("tTi"), Options::default());
    }
}
