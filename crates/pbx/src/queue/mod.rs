//! The call-center floor: queues, the callers waiting in them and the agents who
//! answer, as a plain state machine like the switch it lives in. It is told who
//! joins, who answered, who left, and the time; it answers with what to do
//! ([`Action`]: ring these members, tell a caller their position, let a caller go)
//! and with `queue_log` lines. It does no I/O and knows nothing of SIP: the switch
//! owns it, rings the members through its own Dial, and reports back.
//!
//! Asterisk's `app_queue` is the model for what a queue does (strategies,
//! penalties, wrap-up, retry, joinempty/leavewhenempty, announcements, the
//! queue_log); the shape is ours.

mod pick;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use model::{
    AgentState, EmptyRule, LiveAgent, LiveQueue, QueueEvent, QueueFloor, QueueLogEntry,
    QueueMember, QueueSettings, QueueStatus, WaitingCaller,
};

use crate::switch::CallId;
use pick::{Candidate, Dice};

/// What a member's phone is doing, as the switch sees it (registrations, calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// Not registered: it cannot be rung.
    Unregistered,
    /// On a call or ringing for one (direct or from a queue).
    Busy,
    Free,
}

/// A caller asking to wait in a queue (`Queue()`).
#[derive(Debug, Clone)]
pub struct Join {
    pub queue: String,
    /// The call's public reference (queue_log's callid).
    pub call_ref: String,
    pub channel: String,
    /// Caller ID number.
    pub caller: String,
    /// `Queue()`'s own timeout: the longest this caller waits.
    pub timeout: Option<Duration>,
    /// Option `n`: no second try after the first ring times out.
    pub no_retry: bool,
}

/// What the floor wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ring these members for the caller on `call`, for `timeout`.
    Ring {
        call: CallId,
        members: Vec<String>,
        timeout: Duration,
    },
    /// Tell the caller where they stand: position (1 is next) and the estimated
    /// hold time in whole seconds (None: not to be said).
    Announce {
        call: CallId,
        position: Option<u32>,
        holdtime: Option<u64>,
    },
    /// Play the queue's periodic announcement.
    Periodic { call: CallId, prompt: String },
    /// The caller leaves the queue unanswered (timeout, nobody left); any ringing
    /// stops.
    Exit { call: CallId, status: QueueStatus },
}

/// How a caller's stay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The caller hung up before anyone answered.
    Abandon,
    /// The answered call ended: the caller hung up first.
    CompletedByCaller,
    /// The answered call ended: the agent hung up first.
    CompletedByAgent,
    /// The agent transferred the caller (blind) to `exten` in `context`.
    Transferred { exten: String, context: String },
}

/// A change to a queue's members from the dialplan (`AddQueueMember`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add {
        queue: String,
        extension: String,
        penalty: u32,
    },
    Remove {
        queue: String,
        extension: String,
    },
    /// `queue` None: every queue the member is in.
    Pause {
        queue: Option<String>,
        extension: String,
        paused: bool,
        reason: String,
    },
}

/// How a [`MemberChange`] went (Asterisk's AQMSTATUS, RQMSTATUS, PQMSTATUS ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberResult {
    Done,
    /// Added but already a member; removed or paused but not one.
    NoChange,
    NoSuchQueue,
    /// Removing a static member (configured, not logged in).
    NotDynamic,
}

/// The floor's view as the switch last published it, shared with the API and
/// the dialplan functions; cheap to clone.
#[derive(Clone, Default)]
pub struct FloorView(std::sync::Arc<std::sync::RwLock<QueueFloor>>);

impl FloorView {
    pub fn set(&self, view: QueueFloor) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = view;
    }

    pub fn get(&self) -> QueueFloor {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the view without copying it.
    pub fn with<T>(&self, f: impl FnOnce(&QueueFloor) -> T) -> T {
        f(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// How often a caller nobody could be found for looks again without an input.
const RECHECK: Duration = Duration::from_secs(1);

/// How long a change made here is laid over snapshots that do not show it yet.
const PENDING_FOR: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Queue {
    settings: QueueSettings,
    members: Vec<QueueMember>,
    /// Callers waiting (not yet answered), in order: the first is next.
    order: Vec<CallId>,
    /// Round robin: the member list position after the one rung last.
    rr_next: usize,
    /// Estimated hold time in seconds (Asterisk's running average).
    holdtime: u64,
}

#[derive(Debug, Default)]
struct Agent {
    calls: u64,
    /// When its last queue call ended (ms since the floor started).
    last_call: Option<u64>,
    wrapup_until: Option<Instant>,
    /// The caller it rings for now.
    ringing: Option<CallId>,
    /// The queue caller it talks to now.
    with: Option<CallId>,
}

#[derive(Debug)]
struct Waiter {
    join: Join,
    joined: Instant,
    joined_ms: i64,
    orig_pos: u32,
    deadline: Option<Instant>,
    next_try: Instant,
    ringing: Vec<String>,
    ring_started: Option<Instant>,
    /// Members tried in this round (linear, rrmemory ... go on to the next).
    tried: HashSet<String>,
    /// The agent who answered, and when.
    connected: Option<(String, Instant)>,
    next_announce: Option<Instant>,
    next_periodic: Option<Instant>,
    /// When to look for a free member again after finding none.
    recheck: Instant,
    /// An Exit was asked for: the switch lets the caller go.
    leaving: bool,
}

pub struct Floor {
    queues: BTreeMap<String, Queue>,
    agents: HashMap<String, Agent>,
    waiters: HashMap<CallId, Waiter>,
    dice: Dice,
    log: Vec<QueueLogEntry>,
    /// Member changes made here, until a snapshot shows them.
    pending: Vec<(MemberChange, Instant)>,
    started: Instant,
    changed: bool,
}

impl Floor {
    pub fn new(now: Instant, seed: u64) -> Floor {
        Floor {
            queues: BTreeMap::new(),
            agents: HashMap::new(),
            waiters: HashMap::new(),
            dice: Dice::new(seed),
            log: Vec::new(),
            pending: Vec::new(),
            started: now,
            changed: false,
        }
    }

    /// The queues and members the configuration has now. Changes made here and
    /// not yet in it are laid over it for a while; callers waiting in a queue
    /// that was deleted stay until they leave (they are no longer rung).
    pub fn sync(&mut self, queues: Vec<(QueueSettings, Vec<QueueMember>)>, now: Instant) {
        let mut fresh = BTreeMap::new();
        for (settings, members) in queues {
            let old = self.queues.remove(&settings.name);
            let (order, rr_next, holdtime) =
                old.map_or((Vec::new(), 0, 0), |q| (q.order, q.rr_next, q.holdtime));
            fresh.insert(
                settings.name.clone(),
                Queue {
                    settings,
                    members,
                    order,
                    rr_next,
                    holdtime,
                },
            );
        }
        // A deleted queue with callers keeps them, no members.
        for (name, mut q) in std::mem::take(&mut self.queues) {
            if !q.order.is_empty() {
                q.members.clear();
                fresh.insert(name, q);
            }
        }
        self.queues = fresh;
        self.pending.retain(|(_, until)| *until > now);
        let pending: Vec<MemberChange> = self.pending.iter().map(|(c, _)| c.clone()).collect();
        for change in &pending {
            self.apply(change);
        }
        self.changed = true;
    }

    /// A member change from the dialplan: applied now, logged (ADDMEMBER, ...);
    /// the caller writes it to the database.
    pub fn change_member(
        &mut self,
        change: MemberChange,
        now: Instant,
        wall_ms: i64,
    ) -> MemberResult {
        let result = self.apply(&change);
        if result == MemberResult::Done {
            let (event, ext, queues, reason) = match &change {
                MemberChange::Add {
                    queue, extension, ..
                } => (QueueEvent::Addmember, extension, vec![queue.clone()], ""),
                MemberChange::Remove { queue, extension } => {
                    (QueueEvent::Removemember, extension, vec![queue.clone()], "")
                }
                MemberChange::Pause {
                    queue,
                    extension,
                    paused,
                    reason,
                } => (
                    if *paused {
                        QueueEvent::Pause
                    } else {
                        QueueEvent::Unpause
                    },
                    extension,
                    match queue {
                        Some(q) => vec![q.clone()],
                        None => self.queues_of(extension),
                    },
                    reason.as_str(),
                ),
            };
            let ext = ext.clone();
            let reason = reason.to_string();
            for q in queues {
                self.log_line(
                    wall_ms,
                    "NONE",
                    &q,
                    &interface(&ext),
                    event,
                    [reason.clone()],
                );
            }
            self.pending.push((change, now + PENDING_FOR));
            self.changed = true;
        }
        result
    }

    fn apply(&mut self, change: &MemberChange) -> MemberResult {
        match change {
            MemberChange::Add {
                queue,
                extension,
                penalty,
            } => {
                let Some(q) = self.queues.get_mut(queue) else {
                    return MemberResult::NoSuchQueue;
                };
                if q.members.iter().any(|m| &m.extension == extension) {
                    return MemberResult::NoChange;
                }
                q.members.push(QueueMember {
                    queue: queue.clone(),
                    extension: extension.clone(),
                    penalty: *penalty,
                    dynamic: true,
                    paused: false,
                    reason: String::new(),
                });
                MemberResult::Done
            }
            MemberChange::Remove { queue, extension } => {
                let Some(q) = self.queues.get_mut(queue) else {
                    return MemberResult::NoSuchQueue;
                };
                match q.members.iter().position(|m| &m.extension == extension) {
                    None => MemberResult::NoChange,
                    // Asterisk's NOTDYNAMIC: an agent cannot log out of a queue
                    // it is configured in.
                    Some(i) if !q.members[i].dynamic => MemberResult::NotDynamic,
                    Some(i) => {
                        q.members.remove(i);
                        MemberResult::Done
                    }
                }
            }
            MemberChange::Pause {
                queue,
                extension,
                paused,
                reason,
            } => {
                if let Some(name) = queue {
                    if !self.queues.contains_key(name) {
                        return MemberResult::NoSuchQueue;
                    }
                }
                let mut found = false;
                for q in self.queues.values_mut() {
                    if queue.as_ref().is_some_and(|n| n != &q.settings.name) {
                        continue;
                    }
                    for m in q.members.iter_mut().filter(|m| &m.extension == extension) {
                        found = true;
                        m.paused = *paused;
                        m.reason = if *paused {
                            reason.clone()
                        } else {
                            String::new()
                        };
                    }
                }
                if found {
                    MemberResult::Done
                } else {
                    MemberResult::NoChange
                }
            }
        }
    }

    /// A caller joins the back of a queue: its position, or why it may not wait.
    pub fn join(
        &mut self,
        call: CallId,
        join: Join,
        now: Instant,
        wall_ms: i64,
        devices: &dyn Fn(&str) -> Device,
    ) -> Result<u32, QueueStatus> {
        let Some(q) = self.queues.get(&join.queue) else {
            return Err(QueueStatus::Unknown);
        };
        if q.settings.maxlen > 0 && q.order.len() >= q.settings.maxlen as usize {
            return Err(QueueStatus::Full);
        }
        if self.empty_for(q, q.settings.joinempty, devices, now) {
            return Err(QueueStatus::Joinempty);
        }
        let s = &q.settings;
        let position = q.order.len() as u32 + 1;
        let announce = s.announce_frequency > 0 && (s.announce_position || s.announce_holdtime);
        let periodic = (!s.periodic_announce.is_empty() && s.periodic_announce_frequency > 0)
            .then(|| now + secs(s.periodic_announce_frequency));
        let waiter = Waiter {
            deadline: join.timeout.map(|t| now + t),
            join,
            joined: now,
            joined_ms: wall_ms,
            orig_pos: position,
            next_try: now,
            ringing: Vec::new(),
            ring_started: None,
            tried: HashSet::new(),
            connected: None,
            next_announce: announce.then_some(now),
            next_periodic: periodic,
            recheck: now,
            leaving: false,
        };
        let queue = waiter.join.queue.clone();
        let (call_ref, caller) = (waiter.join.call_ref.clone(), waiter.join.caller.clone());
        self.waiters.insert(call, waiter);
        if let Some(q) = self.queues.get_mut(&queue) {
            q.order.push(call);
        }
        self.log_line(
            wall_ms,
            &call_ref,
            &queue,
            "NONE",
            QueueEvent::Enterqueue,
            [String::new(), caller, position.to_string()],
        );
        self.changed = true;
        Ok(position)
    }

    /// What is due now: rings for callers whose turn it is, announcements, exits.
    pub fn poll(
        &mut self,
        now: Instant,
        wall_ms: i64,
        devices: &dyn Fn(&str) -> Device,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        for a in self.agents.values_mut() {
            if a.wrapup_until.is_some_and(|t| t <= now) {
                a.wrapup_until = None;
            }
        }
        // Heavier queues pick members first.
        let mut names: Vec<(u32, String)> = self
            .queues
            .values()
            .map(|q| (q.settings.weight, q.settings.name.clone()))
            .collect();
        names.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, name) in names {
            self.poll_queue(&name, now, wall_ms, devices, &mut actions);
        }
        if !actions.is_empty() {
            self.changed = true;
        }
        actions
    }

    fn poll_queue(
        &mut self,
        name: &str,
        now: Instant,
        wall_ms: i64,
        devices: &dyn Fn(&str) -> Device,
        actions: &mut Vec<Action>,
    ) {
        let Some(q) = self.queues.get(name) else {
            return;
        };
        let order = q.order.clone();
        let leave_empty =
            !order.is_empty() && self.empty_for(q, q.settings.leavewhenempty, devices, now);
        // Checked once, and again only after a ring takes members: with every
        // member busy, a poll costs the members plus the callers, not their
        // product (200 callers waiting on 100 busy agents, at every SIP event).
        let mut anyone_free = self.has_free_member(name, now, devices);
        for (i, call) in order.iter().enumerate() {
            let position = i as u32 + 1;
            let Some(w) = self.waiters.get(call) else {
                continue;
            };
            if w.leaving || w.connected.is_some() {
                continue;
            }
            if w.deadline.is_some_and(|d| d <= now) {
                self.exit(*call, QueueStatus::Timeout, now, wall_ms, actions);
                continue;
            }
            if leave_empty {
                self.exit(*call, QueueStatus::Leaveempty, now, wall_ms, actions);
                continue;
            }
            self.announce(*call, position, now, actions);
            let Some(w) = self.waiters.get(call) else {
                continue;
            };
            if !w.ringing.is_empty() || w.next_try > now {
                continue;
            }
            let members = if anyone_free {
                self.choose(name, *call, now, devices)
            } else {
                Vec::new()
            };
            if members.is_empty() {
                // Nobody to ring: any input polls again; without one, look again
                // in a while (a wrap-up ends, a registration expires).
                if let Some(w) = self.waiters.get_mut(call) {
                    w.recheck = now + RECHECK;
                }
                continue;
            }
            let Some(q) = self.queues.get(name) else {
                return;
            };
            let mut timeout = secs(q.settings.timeout.max(1));
            for m in &members {
                self.agents.entry(m.clone()).or_default().ringing = Some(*call);
            }
            if let Some(w) = self.waiters.get_mut(call) {
                if let Some(d) = w.deadline {
                    // The caller's own limit cuts the last ring short.
                    timeout = timeout.min(d.saturating_duration_since(now));
                }
                w.tried.extend(members.iter().cloned());
                w.ringing = members.clone();
                w.ring_started = Some(now);
            }
            actions.push(Action::Ring {
                call: *call,
                members,
                timeout,
            });
            anyone_free = self.has_free_member(name, now, devices);
        }
    }

    /// Is any member of queue `name` ringable now?
    fn has_free_member(&self, name: &str, now: Instant, devices: &dyn Fn(&str) -> Device) -> bool {
        self.queues
            .get(name)
            .is_some_and(|q| q.members.iter().any(|m| self.ringable(m, now, devices)))
    }

    /// Not paused and free: what both the quick check and the pick ask.
    fn ringable(&self, m: &QueueMember, now: Instant, devices: &dyn Fn(&str) -> Device) -> bool {
        !m.paused && self.free(&m.extension, now, devices)
    }

    /// Position and hold time, and the periodic announcement, when they are due.
    fn announce(&mut self, call: CallId, position: u32, now: Instant, actions: &mut Vec<Action>) {
        let Some(w) = self.waiters.get_mut(&call) else {
            return;
        };
        let Some(q) = self.queues.get(&w.join.queue) else {
            return;
        };
        let s = &q.settings;
        if w.next_announce.is_some_and(|t| t <= now) {
            w.next_announce = Some(now + secs(s.announce_frequency.max(1)));
            let holdtime = (s.announce_holdtime && q.holdtime > 0).then_some(q.holdtime);
            let position = s.announce_position.then_some(position);
            if position.is_some() || holdtime.is_some() {
                actions.push(Action::Announce {
                    call,
                    position,
                    holdtime,
                });
            }
        }
        if w.next_periodic.is_some_and(|t| t <= now) {
            w.next_periodic = Some(now + secs(s.periodic_announce_frequency.max(1)));
            actions.push(Action::Periodic {
                call,
                prompt: s.periodic_announce.clone(),
            });
        }
    }

    /// The members to ring for `call` now, by the queue's strategy.
    fn choose(
        &mut self,
        name: &str,
        call: CallId,
        now: Instant,
        devices: &dyn Fn(&str) -> Device,
    ) -> Vec<String> {
        let Some(q) = self.queues.get(name) else {
            return Vec::new();
        };
        let Some(w) = self.waiters.get(&call) else {
            return Vec::new();
        };
        let candidates: Vec<Candidate> = q
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| self.ringable(m, now, devices))
            .map(|(position, m)| {
                let agent = self.agents.get(&m.extension);
                Candidate {
                    extension: m.extension.clone(),
                    penalty: m.penalty,
                    position,
                    calls: agent.map_or(0, |a| a.calls),
                    last_call: agent.and_then(|a| a.last_call),
                    tried: w.tried.contains(&m.extension),
                }
            })
            .collect();
        let all_tried = candidates.iter().all(|c| c.tried);
        let chosen = pick::pick(q.settings.strategy, &candidates, q.rr_next, &mut self.dice);
        let rr = chosen
            .first()
            .and_then(|e| q.members.iter().position(|m| &m.extension == e))
            .map(|p| p + 1);
        if let Some(q) = self.queues.get_mut(name) {
            if let Some(rr) = rr {
                q.rr_next = rr;
            }
        }
        if all_tried {
            // A new round: everyone may be tried again.
            if let Some(w) = self.waiters.get_mut(&call) {
                w.tried.clear();
            }
        }
        chosen
    }

    /// The member can be offered a call now: registered and idle, not ringing for
    /// another caller, not resting after its last queue call.
    fn free(&self, ext: &str, now: Instant, devices: &dyn Fn(&str) -> Device) -> bool {
        if let Some(a) = self.agents.get(ext) {
            if a.ringing.is_some() || a.with.is_some() {
                return false;
            }
            if a.wrapup_until.is_some_and(|t| t > now) {
                return false;
            }
        }
        devices(ext) == Device::Free
    }

    /// True when no member of `q` is there in the sense of `rule`.
    fn empty_for(
        &self,
        q: &Queue,
        rule: EmptyRule,
        devices: &dyn Fn(&str) -> Device,
        now: Instant,
    ) -> bool {
        let there = |m: &QueueMember| match rule {
            EmptyRule::Never => true,
            EmptyRule::Unavailable => devices(&m.extension) != Device::Unregistered,
            EmptyRule::Paused => !m.paused && devices(&m.extension) != Device::Unregistered,
            EmptyRule::Strict => {
                !m.paused && {
                    // Ringing for someone or on a queue call counts as there:
                    // it will be free again.
                    let ours = self
                        .agents
                        .get(&m.extension)
                        .is_some_and(|a| a.ringing.is_some() || a.with.is_some());
                    ours || self.free(&m.extension, now, devices)
                }
            }
        };
        rule != EmptyRule::Never && !q.members.iter().any(there)
    }

    fn exit(
        &mut self,
        call: CallId,
        status: QueueStatus,
        now: Instant,
        wall_ms: i64,
        actions: &mut Vec<Action>,
    ) {
        let event = match status {
            QueueStatus::Timeout => QueueEvent::Exitwithtimeout,
            _ => QueueEvent::Exitempty,
        };
        self.stop_ringing(call);
        let Some(position) = self.position(call) else {
            return;
        };
        if let Some(w) = self.waiters.get_mut(&call) {
            w.leaving = true;
        }
        self.log_waiter(call, event, position, now, wall_ms);
        actions.push(Action::Exit { call, status });
    }

    /// The members rung for `call` did not answer (or could not be reached).
    pub fn ring_failed(&mut self, call: CallId, now: Instant, wall_ms: i64) -> Option<Action> {
        let w = self.waiters.get(&call)?;
        let rung = w.ringing.clone();
        let ring_ms = w
            .ring_started
            .map_or(0, |t| now.saturating_duration_since(t).as_millis());
        let (queue, call_ref, no_retry) = (
            w.join.queue.clone(),
            w.join.call_ref.clone(),
            w.join.no_retry,
        );
        self.stop_ringing(call);
        for m in &rung {
            self.log_line(
                wall_ms,
                &call_ref,
                &queue,
                &interface(m),
                QueueEvent::Ringnoanswer,
                [ring_ms.to_string()],
            );
        }
        let retry = self.queues.get(&queue).map_or(5, |q| q.settings.retry);
        if let Some(w) = self.waiters.get_mut(&call) {
            w.next_try = now + secs(retry);
        }
        self.changed = true;
        if no_retry && !rung.is_empty() {
            let mut actions = Vec::new();
            self.exit(call, QueueStatus::Timeout, now, wall_ms, &mut actions);
            return actions.pop();
        }
        None
    }

    /// `agent` answered the caller on `call`: the caller leaves the line.
    pub fn answered(
        &mut self,
        call: CallId,
        agent: &str,
        agent_channel: &str,
        now: Instant,
        wall_ms: i64,
    ) {
        let Some(w) = self.waiters.get(&call) else {
            return;
        };
        let hold = now.saturating_duration_since(w.joined).as_secs();
        let ring = w
            .ring_started
            .map_or(0, |t| now.saturating_duration_since(t).as_secs());
        let (queue, call_ref) = (w.join.queue.clone(), w.join.call_ref.clone());
        self.stop_ringing(call);
        if let Some(q) = self.queues.get_mut(&queue) {
            q.order.retain(|c| *c != call);
            q.holdtime = if q.holdtime == 0 {
                hold
            } else {
                (q.holdtime * 3 + hold) / 4
            };
        }
        if let Some(w) = self.waiters.get_mut(&call) {
            w.connected = Some((agent.to_string(), now));
        }
        let a = self.agents.entry(agent.to_string()).or_default();
        a.with = Some(call);
        a.calls += 1;
        self.log_line(
            wall_ms,
            &call_ref,
            &queue,
            &interface(agent),
            QueueEvent::Connect,
            [
                hold.to_string(),
                agent_channel.to_string(),
                ring.to_string(),
            ],
        );
        self.changed = true;
    }

    /// The caller on `call` is gone from the queue: hung up, or its answered call
    /// ended, or it was transferred.
    pub fn ended(&mut self, call: CallId, end: End, now: Instant, wall_ms: i64) {
        let Some(position) = self.position(call) else {
            return;
        };
        let Some(w) = self.waiters.get(&call) else {
            return;
        };
        let leaving = w.leaving;
        match (&w.connected, &end) {
            (None, _) => {
                self.stop_ringing(call);
                if !leaving {
                    self.log_waiter(call, QueueEvent::Abandon, position, now, wall_ms);
                }
            }
            (Some((agent, since)), end) => {
                let agent = agent.clone();
                let talk = now.saturating_duration_since(*since).as_secs();
                let hold = since.saturating_duration_since(w.joined).as_secs();
                let (queue, call_ref, orig) =
                    (w.join.queue.clone(), w.join.call_ref.clone(), w.orig_pos);
                let (event, data) = match end {
                    End::Transferred { exten, context } => (
                        QueueEvent::Transfer,
                        vec![
                            exten.clone(),
                            context.clone(),
                            hold.to_string(),
                            talk.to_string(),
                            orig.to_string(),
                        ],
                    ),
                    End::CompletedByAgent => (
                        QueueEvent::Completeagent,
                        vec![hold.to_string(), talk.to_string(), orig.to_string()],
                    ),
                    _ => (
                        QueueEvent::Completecaller,
                        vec![hold.to_string(), talk.to_string(), orig.to_string()],
                    ),
                };
                self.log_line(wall_ms, &call_ref, &queue, &interface(&agent), event, data);
                let wrapup = self.queues.get(&queue).map_or(0, |q| q.settings.wrapuptime);
                let started = self.started;
                let a = self.agents.entry(agent).or_default();
                a.with = None;
                a.last_call = Some(now.saturating_duration_since(started).as_millis() as u64);
                a.wrapup_until = (wrapup > 0).then(|| now + secs(wrapup));
            }
        }
        let queue = self.waiters.remove(&call).map(|w| w.join.queue);
        if let Some(q) = queue.and_then(|n| self.queues.get_mut(&n)) {
            q.order.retain(|c| *c != call);
        }
        self.changed = true;
    }

    /// True while some caller waits unanswered (polling has work).
    /// The queue `call` is in (waiting, ringing or answered).
    pub fn queue_of(&self, call: CallId) -> Option<&str> {
        self.waiters.get(&call).map(|w| w.join.queue.as_str())
    }

    pub fn has_waiting(&self) -> bool {
        self.waiters
            .values()
            .any(|w| w.connected.is_none() && !w.leaving)
    }

    /// When [`Floor::poll`] has something to do next: a retry, an announcement, a
    /// caller's timeout, a wrap-up ending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let waiters = self
            .waiters
            .values()
            .filter(|w| w.connected.is_none() && !w.leaving);
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for w in waiters {
            if w.ringing.is_empty() {
                at(w.next_try.max(w.recheck));
            }
            for t in [w.deadline, w.next_announce, w.next_periodic]
                .into_iter()
                .flatten()
            {
                at(t);
            }
        }
        if !self.waiters.is_empty() {
            for a in self.agents.values() {
                if let Some(t) = a.wrapup_until {
                    at(t);
                }
            }
        }
        next
    }

    /// Takes the queue_log lines written since the last call.
    pub fn drain_log(&mut self) -> Vec<QueueLogEntry> {
        std::mem::take(&mut self.log)
    }

    /// True once since anything visible changed (the switch republishes the view).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The floor as the API and the console show it.
    pub fn view(&self, now: Instant, wall_ms: i64, devices: &dyn Fn(&str) -> Device) -> QueueFloor {
        let ms_ago = |t: Instant| wall_ms - now.saturating_duration_since(t).as_millis() as i64;
        let queues = self
            .queues
            .values()
            .map(|q| {
                let waiting: Vec<WaitingCaller> = q
                    .order
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        let w = self.waiters.get(c)?;
                        Some(WaitingCaller {
                            call: w.join.call_ref.clone(),
                            channel: w.join.channel.clone(),
                            caller: w.join.caller.clone(),
                            position: i as u32 + 1,
                            since_ms: w.joined_ms,
                            ringing: w.ringing.clone(),
                        })
                    })
                    .collect();
                let longest = q
                    .order
                    .first()
                    .and_then(|c| self.waiters.get(c))
                    .map_or(0, |w| now.saturating_duration_since(w.joined).as_secs());
                LiveQueue {
                    name: q.settings.name.clone(),
                    waiting,
                    longest_wait_secs: longest,
                }
            })
            .collect();
        let mut exts: BTreeMap<&str, Vec<&QueueMember>> = BTreeMap::new();
        for q in self.queues.values() {
            for m in &q.members {
                exts.entry(m.extension.as_str()).or_default().push(m);
            }
        }
        let agents = exts
            .into_iter()
            .map(|(ext, memberships)| {
                let a = self.agents.get(ext);
                let device = devices(ext);
                let all_paused = memberships.iter().all(|m| m.paused);
                let state = if device == Device::Unregistered {
                    AgentState::LoggedOut
                } else if a.is_some_and(|a| a.ringing.is_some()) {
                    AgentState::Ringing
                } else if a.is_some_and(|a| a.with.is_some()) || device == Device::Busy {
                    AgentState::OnCall
                } else if a.is_some_and(|a| a.wrapup_until.is_some_and(|t| t > now)) {
                    AgentState::WrapUp
                } else if all_paused {
                    AgentState::Paused
                } else {
                    AgentState::Available
                };
                let reason = memberships
                    .iter()
                    .find(|m| m.paused && !m.reason.is_empty())
                    .map(|m| m.reason.clone())
                    .unwrap_or_default();
                let last_call_ms = a
                    .and_then(|a| a.last_call)
                    .map_or(0, |ms| ms_ago(self.started + Duration::from_millis(ms)));
                LiveAgent {
                    extension: ext.to_string(),
                    state,
                    reason,
                    queues: memberships.iter().map(|m| m.queue.clone()).collect(),
                    calls_taken: a.map_or(0, |a| a.calls),
                    last_call_ms,
                }
            })
            .collect();
        QueueFloor { queues, agents }
    }

    fn queues_of(&self, ext: &str) -> Vec<String> {
        self.queues
            .values()
            .filter(|q| q.members.iter().any(|m| m.extension == ext))
            .map(|q| q.settings.name.clone())
            .collect()
    }

    fn position(&self, call: CallId) -> Option<u32> {
        let w = self.waiters.get(&call)?;
        let q = self.queues.get(&w.join.queue);
        Some(
            q.and_then(|q| q.order.iter().position(|c| *c == call))
                .map_or(0, |p| p as u32 + 1),
        )
    }

    fn stop_ringing(&mut self, call: CallId) {
        let Some(w) = self.waiters.get_mut(&call) else {
            return;
        };
        for m in std::mem::take(&mut w.ringing) {
            if let Some(a) = self.agents.get_mut(&m) {
                if a.ringing == Some(call) {
                    a.ringing = None;
                }
            }
        }
        w.ring_started = None;
    }

    fn log_waiter(
        &mut self,
        call: CallId,
        event: QueueEvent,
        position: u32,
        now: Instant,
        wall_ms: i64,
    ) {
        let Some(w) = self.waiters.get(&call) else {
            return;
        };
        let wait = now.saturating_duration_since(w.joined).as_secs();
        let (queue, call_ref, orig) = (w.join.queue.clone(), w.join.call_ref.clone(), w.orig_pos);
        self.log_line(
            wall_ms,
            &call_ref,
            &queue,
            "NONE",
            event,
            [position.to_string(), orig.to_string(), wait.to_string()],
        );
    }

    fn log_line(
        &mut self,
        wall_ms: i64,
        call_ref: &str,
        queue: &str,
        agent: &str,
        event: QueueEvent,
        data: impl IntoIterator<Item = String>,
    ) {
        let mut fields: [String; 5] = Default::default();
        for (slot, v) in fields.iter_mut().zip(data) {
            *slot = v;
        }
        self.log.push(QueueLogEntry {
            time_ms: wall_ms,
            call_id: call_ref.to_string(),
            queue: queue.to_string(),
            agent: agent.to_string(),
            event,
            data: fields,
        });
    }
}

/// A member's interface as queue_log names it.
fn interface(ext: &str) -> String {
    format!("SIP/{ext}")
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}
