//! The switch's side of the call-center floor (`crate::queue::Floor`): it owns
//! the floor, feeds it what only the switch knows (which phones are registered,
//! which are on a call or ringing, when a queue call's Dial fails or is
//! answered), and carries out what the floor asks: a member is rung through the
//! caller's own Dial, whose end goes back to the floor instead of to the channel
//! task until someone answers. The task (`Queue()`) hears only what concerns the
//! caller: its position, the connection, its exit.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use model::{AgentState, QueueStatus};

use super::call::{Call, CallId};
use super::channels::Channels;
use super::{Output, Switch};
use crate::chan::{ChanEvent, DialStatus};
use crate::events::Event;
use crate::queue::{Action, Device, End, Join, MemberChange, MemberResult};
use crate::registrar::Registrar;

/// A caller of this switch waiting in (or answered from) a queue.
#[derive(Debug, Default)]
pub(super) struct QueueCall {
    /// What the answering agent's channel inherits (`__SPYGROUP`).
    vars: Vec<(String, String)>,
    /// The call's Dial rings members for the floor now.
    ringing: bool,
    /// The agent's channel, once one answered.
    connected: Option<String>,
    /// The agent transferred the caller here (blind): exten, context.
    transferred: Option<(String, String)>,
}

/// What the switch keeps for the floor besides the floor itself.
#[derive(Default)]
pub(super) struct FloorState {
    pub calls: HashMap<CallId, QueueCall>,
    /// A new configuration came: sync the floor before it is used next.
    pub stale: bool,
    /// Each agent's state as last published, to send changes as events.
    pub agents: HashMap<String, (AgentState, String)>,
}

impl Switch {
    /// `Queue()`: the caller joins the back of `queue`, or is told why not.
    pub(super) fn on_queue_join(
        &mut self,
        id: CallId,
        queue: String,
        timeout: Option<Duration>,
        no_retry: bool,
        vars: Vec<(String, String)>,
        now: Instant,
    ) {
        self.sync_floor(now);
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let join = Join {
            queue,
            call_ref: call.public_id.clone(),
            channel: call.a.channel.clone(),
            caller: call.caller.clone(),
            timeout,
            no_retry,
        };
        let wall_ms = self.wall_ms(now);
        let devices = Devices::gather(&self.channels, &self.calls, &self.registrar, now);
        let result = self
            .floor
            .join(id, join, now, wall_ms, &|ext| devices.of(ext));
        if result.is_ok() {
            self.queue.calls.insert(
                id,
                QueueCall {
                    vars,
                    ..QueueCall::default()
                },
            );
        }
        self.tell_chan(id, ChanEvent::QueueJoined(result));
    }

    /// `AddQueueMember` & co. from the dialplan: applied to the floor now, and
    /// written to the database.
    pub(super) fn on_queue_member(&mut self, id: CallId, change: MemberChange, now: Instant) {
        self.sync_floor(now);
        let wall_ms = self.wall_ms(now);
        let result = self.floor.change_member(change.clone(), now, wall_ms);
        if result == MemberResult::Done {
            let write = match change {
                MemberChange::Add {
                    queue,
                    extension,
                    penalty,
                } => store::Write::QueueMemberAdd {
                    queue,
                    extension,
                    penalty,
                    paused: false,
                    reason: String::new(),
                },
                MemberChange::Remove { queue, extension } => {
                    store::Write::QueueMemberRemove { queue, extension }
                }
                MemberChange::Pause {
                    queue,
                    extension,
                    paused,
                    reason,
                } => store::Write::QueueMemberPause {
                    queue,
                    extension,
                    paused,
                    reason,
                },
            };
            self.store(write);
        }
        self.tell_chan(id, ChanEvent::QueueMemberDone(result));
    }

    /// After every input: whatever the floor wants done now, its log lines, and
    /// its view when it changed.
    pub(super) fn run_floor(&mut self, now: Instant) {
        if self.queue.stale {
            self.sync_floor(now);
        }
        let wall_ms = self.wall_ms(now);
        if self.floor.has_waiting() {
            let devices = Devices::gather(&self.channels, &self.calls, &self.registrar, now);
            let actions = self.floor.poll(now, wall_ms, &|ext| devices.of(ext));
            for action in actions {
                self.queue_action(action, now);
            }
        }
        for entry in self.floor.drain_log() {
            self.emit(Event::QueueLog {
                entry: entry.clone(),
            });
            self.store(store::Write::QueueLog(entry));
        }
        if self.floor.take_changed() {
            self.publish_floor(now, wall_ms);
        }
    }

    fn queue_action(&mut self, action: Action, now: Instant) {
        match action {
            Action::Ring {
                call,
                members,
                timeout,
            } => {
                let Some(q) = self.queue.calls.get_mut(&call) else {
                    return;
                };
                q.ringing = true;
                let vars = q.vars.clone();
                tracing::info!(%call, members = %members.join("&"), "queue: ringing");
                self.on_dial(call, members, Some(timeout), vars, now);
            }
            Action::Announce {
                call,
                position,
                holdtime,
            } => self.tell_chan(call, ChanEvent::QueueAnnounce { position, holdtime }),
            Action::Periodic { call, prompt } => {
                self.tell_chan(call, ChanEvent::QueuePeriodic(prompt))
            }
            Action::Exit { call, status } => self.queue_exit(call, status, now),
        }
    }

    /// The caller leaves the queue unanswered: its ringing stops, its task is told.
    fn queue_exit(&mut self, id: CallId, status: QueueStatus, now: Instant) {
        let wall_ms = self.wall_ms(now);
        self.floor.ended(id, End::Abandon, now, wall_ms);
        if let Some(q) = self.queue.calls.remove(&id) {
            if q.ringing {
                // Nobody waits for this Dial's end: the floor gave up on it.
                if let Some(dial) = self.calls.get_mut(&id).and_then(|c| c.dial.as_mut()) {
                    dial.deadline = None;
                    dial.waiting = false;
                }
                self.cancel_branches(id, None, now);
            }
        }
        self.tell_chan(id, ChanEvent::QueueExit(status));
    }

    /// A Dial of the call ended. True when the floor took it (a ring for a queue
    /// caller that nobody answered), so the channel task is not told.
    pub(super) fn queue_dial_done(&mut self, id: CallId, status: DialStatus, now: Instant) -> bool {
        let wall_ms = self.wall_ms(now);
        let Some(q) = self.queue.calls.get_mut(&id) else {
            return false;
        };
        if q.connected.is_some() {
            // The answered queue call is over: the task's Dial-like wait ends.
            let end = match (q.transferred.take(), status) {
                (Some((exten, context)), _) => End::Transferred { exten, context },
                (None, DialStatus::Cancel) => End::CompletedByCaller,
                (None, _) => End::CompletedByAgent,
            };
            self.queue.calls.remove(&id);
            self.floor.ended(id, end, now, wall_ms);
            return false;
        }
        if !q.ringing {
            return false;
        }
        q.ringing = false;
        if status == DialStatus::Cancel {
            // The caller is gone (its task hears the hangup).
            self.queue.calls.remove(&id);
            self.floor.ended(id, End::Abandon, now, wall_ms);
        } else if let Some(action) = self.floor.ring_failed(id, now, wall_ms) {
            self.queue_action(action, now);
        }
        true
    }

    /// A member answered the queue caller on `id` from `channel`.
    pub(super) fn queue_answered(&mut self, id: CallId, channel: &str, now: Instant) {
        let Some(q) = self.queue.calls.get_mut(&id) else {
            return;
        };
        if q.connected.is_some() {
            return;
        }
        q.ringing = false;
        q.connected = Some(channel.to_string());
        let agent = crate::channel::endpoint_of(channel)
            .unwrap_or_default()
            .to_string();
        let wall_ms = self.wall_ms(now);
        // The agent's channel carries the queue's call: supervisors granted the
        // queue may monitor it.
        let queue = self.floor.queue_of(id).map(str::to_string);
        self.channels
            .update(channel, &mut self.out, |c| c.queue = queue);
        self.floor.answered(id, &agent, channel, now, wall_ms);
        self.tell_chan(
            id,
            ChanEvent::QueueConnected {
                agent,
                channel: channel.to_string(),
            },
        );
    }

    /// The agent on the queue call `id` transferred the caller (blind).
    pub(super) fn queue_transferred(&mut self, id: CallId, exten: &str, context: &str) {
        if let Some(q) = self.queue.calls.get_mut(&id) {
            if q.connected.is_some() {
                q.transferred = Some((exten.to_string(), context.to_string()));
            }
        }
    }

    /// The call is over: if it was waiting in a queue, it abandoned.
    pub(super) fn queue_call_over(&mut self, id: CallId, now: Instant) {
        let Some(q) = self.queue.calls.remove(&id) else {
            return;
        };
        let end = if q.connected.is_some() {
            End::CompletedByCaller
        } else {
            End::Abandon
        };
        let wall_ms = self.wall_ms(now);
        self.floor.ended(id, end, now, wall_ms);
    }

    /// Wall-clock Unix milliseconds at `now`, as the queue log keeps time.
    fn wall_ms(&self, now: Instant) -> i64 {
        super::setup::epoch_ms(self.wall(now)) as i64
    }

    /// The queues and members of the current snapshot, into the floor.
    fn sync_floor(&mut self, now: Instant) {
        if !std::mem::take(&mut self.queue.stale) {
            return;
        }
        let queues = self
            .config
            .queues()
            .map(|q| (q.clone(), self.config.queue_members(&q.name).to_vec()))
            .collect();
        self.floor.sync(queues, now);
    }

    /// The floor's view for the API, and agent state changes as events.
    fn publish_floor(&mut self, now: Instant, wall_ms: i64) {
        let devices = Devices::gather(&self.channels, &self.calls, &self.registrar, now);
        let view = self.floor.view(now, wall_ms, &|ext| devices.of(ext));
        let mut seen = HashSet::new();
        for a in &view.agents {
            seen.insert(a.extension.clone());
            let now_state = (a.state, a.reason.clone());
            if self.queue.agents.get(&a.extension) != Some(&now_state) {
                self.queue
                    .agents
                    .insert(a.extension.clone(), now_state.clone());
                self.emit(Event::AgentState {
                    extension: a.extension.clone(),
                    state: a.state,
                    reason: a.reason.clone(),
                    queues: a.queues.clone(),
                });
            }
        }
        let gone: Vec<String> = self
            .queue
            .agents
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for extension in gone {
            self.queue.agents.remove(&extension);
            self.emit(Event::AgentState {
                extension,
                state: AgentState::LoggedOut,
                reason: String::new(),
                queues: Vec::new(),
            });
        }
        self.out.push_back(Output::QueueFloor(view));
    }
}

/// What each phone is doing, for one floor poll: the extensions with a live
/// channel, a waiting caller leg or a ringing branch are busy (borrowed, not
/// copied: a poll with 200 waiting callers runs at every SIP event); whether a
/// member is registered is looked up when the floor asks.
pub(super) struct Devices<'a> {
    busy: HashSet<&'a str>,
    registrar: &'a Registrar,
    now: Instant,
}

impl<'a> Devices<'a> {
    fn gather(
        channels: &'a Channels,
        calls: &'a HashMap<CallId, Call>,
        registrar: &'a Registrar,
        now: Instant,
    ) -> Devices<'a> {
        let mut busy: HashSet<&str> = channels.iter().map(|c| c.endpoint.as_str()).collect();
        for call in calls.values() {
            busy.extend(crate::channel::endpoint_of(&call.a.channel));
            for b in call.dial.iter().flat_map(|d| d.branches.iter()) {
                if !b.done() {
                    busy.extend(crate::channel::endpoint_of(&b.channel));
                }
            }
        }
        Devices {
            busy,
            registrar,
            now,
        }
    }

    fn of(&self, ext: &str) -> Device {
        if !self.registrar.is_registered(ext, self.now) {
            Device::Unregistered
        } else if self.busy.contains(ext) {
            Device::Busy
        } else {
            Device::Free
        }
    }
}
