//! The floor in virtual time: who is rung in which order, wrap-up, pauses, busy
//! agents, timeouts, empty rules, and the queue_log it writes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use model::{AgentState, EmptyRule, QueueEvent, QueueMember, QueueSettings, QueueStatus, Strategy};

use super::*;

struct Room {
    floor: Floor,
    now: Instant,
    devices: HashMap<String, Device>,
}

fn join_req(call: u64, queue: &str, timeout: Option<Duration>) -> Join {
    Join {
        queue: queue.to_string(),
        call_ref: format!("c{call}"),
        channel: format!("SIP/trunk-{call}"),
        caller: format!("55500{call}"),
        timeout,
        no_retry: false,
    }
}

fn member(queue: &str, ext: &str, penalty: u32) -> QueueMember {
    QueueMember {
        queue: queue.to_string(),
        extension: ext.to_string(),
        penalty,
        dynamic: false,
        paused: false,
        reason: String::new(),
    }
}

impl Room {
    fn new(settings: QueueSettings, agents: &[&str]) -> Room {
        let now = Instant::now();
        let mut floor = Floor::new(now, 42);
        let members = agents
            .iter()
            .map(|a| member(&settings.name, a, 0))
            .collect();
        floor.sync(vec![(settings, members)], now);
        let devices = agents
            .iter()
            .map(|a| (a.to_string(), Device::Free))
            .collect();
        Room {
            floor,
            now,
            devices,
        }
    }

    fn ms(&self) -> i64 {
        1_700_000_000_000 + self.now.elapsed().as_millis() as i64
    }

    fn join(&mut self, call: u64, queue: &str) -> Result<u32, QueueStatus> {
        let devices = self.devices.clone();
        let ms = self.ms();
        self.floor.join(
            CallId(call),
            join_req(call, queue, None),
            self.now,
            ms,
            &|e| devices.get(e).copied().unwrap_or(Device::Unregistered),
        )
    }

    fn poll(&mut self) -> Vec<Action> {
        let devices = self.devices.clone();
        let ms = self.ms();
        self.floor.poll(self.now, ms, &|e| {
            devices.get(e).copied().unwrap_or(Device::Unregistered)
        })
    }

    /// The members rung for `call` by the next poll.
    fn rings(&mut self, call: u64) -> Vec<String> {
        self.poll()
            .into_iter()
            .find_map(|a| match a {
                Action::Ring {
                    call: c, members, ..
                } if c == CallId(call) => Some(members),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
    }

    fn no_answer(&mut self, call: u64) {
        let ms = self.ms();
        self.floor.ring_failed(CallId(call), self.now, ms);
    }

    fn answer(&mut self, call: u64, agent: &str) {
        let ms = self.ms();
        self.floor
            .answered(CallId(call), agent, &format!("SIP/{agent}-1"), self.now, ms);
    }

    fn end(&mut self, call: u64, end: End) {
        let ms = self.ms();
        self.floor.ended(CallId(call), end, self.now, ms);
    }

    fn events(&mut self) -> Vec<(QueueEvent, String)> {
        self.floor
            .drain_log()
            .into_iter()
            .map(|l| (l.event, l.agent))
            .collect()
    }

    fn state(&self, ext: &str) -> AgentState {
        let devices = self.devices.clone();
        self.floor
            .view(self.now, 0, &|e| {
                devices.get(e).copied().unwrap_or(Device::Unregistered)
            })
            .agents
            .into_iter()
            .find(|a| a.extension == ext)
            .map_or(AgentState::LoggedOut, |a| a.state)
    }
}

fn queue(strategy: Strategy) -> QueueSettings {
    let mut s = QueueSettings::new("sales");
    s.strategy = strategy;
    s
}

#[test]
fn ringall_rings_every_free_member_and_logs_the_call() {
    let mut r = Room::new(queue(Strategy::Ringall), &["201", "202", "203"]);
    assert_eq!(r.join(1, "sales"), Ok(1));
    assert_eq!(r.rings(1), ["201", "202", "203"]);
    assert_eq!(r.state("202"), AgentState::Ringing);
    r.advance(3);
    r.answer(1, "202");
    assert_eq!(r.state("202"), AgentState::OnCall);
    assert_eq!(r.state("201"), AgentState::Available);
    r.advance(30);
    r.end(1, End::CompletedByCaller);
    let ev = r.events();
    let names: Vec<QueueEvent> = ev.iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [
            QueueEvent::Enterqueue,
            QueueEvent::Connect,
            QueueEvent::Completecaller
        ]
    );
    assert_eq!(ev[1].1, "SIP/202");
}

#[test]
fn linear_goes_down_the_list_after_each_timeout() {
    let mut s = queue(Strategy::Linear);
    s.retry = 2;
    let mut r = Room::new(s, &["201", "202", "203"]);
    r.join(1, "sales").unwrap();
    assert_eq!(r.rings(1), ["201"]);
    r.advance(15);
    r.no_answer(1);
    // Retry pause first.
    assert!(r.rings(1).is_empty());
    r.advance(2);
    assert_eq!(r.rings(1), ["202"]);
    r.advance(15);
    r.no_answer(1);
    r.advance(2);
    assert_eq!(r.rings(1), ["203"]);
    r.advance(15);
    r.no_answer(1);
    r.advance(2);
    // A new round from the top.
    assert_eq!(r.rings(1), ["201"]);
    let ev = r.events();
    assert_eq!(
        ev.iter()
            .filter(|e| e.0 == QueueEvent::Ringnoanswer)
            .count(),
        3
    );
}

#[test]
fn rrmemory_remembers_across_callers() {
    let mut r = Room::new(queue(Strategy::Rrmemory), &["201", "202", "203"]);
    for (call, agent) in [(1, "201"), (2, "202"), (3, "203"), (4, "201")] {
        r.join(call, "sales").unwrap();
        assert_eq!(r.rings(call), [agent], "call {call}");
        r.answer(call, agent);
        r.end(call, End::CompletedByAgent);
    }
}

#[test]
fn leastrecent_and_fewestcalls_pick_the_idlest_agent() {
    let mut r = Room::new(queue(Strategy::Leastrecent), &["201", "202"]);
    r.join(1, "sales").unwrap();
    assert_eq!(r.rings(1), ["201"]); // nobody called yet: list order
    r.answer(1, "201");
    r.advance(10);
    r.end(1, End::CompletedByCaller);
    r.join(2, "sales").unwrap();
    assert_eq!(r.rings(2), ["202"]); // never had a call
    r.answer(2, "202");
    r.advance(10);
    r.end(2, End::CompletedByCaller);
    r.join(3, "sales").unwrap();
    assert_eq!(r.rings(3), ["201"]); // its call ended longer ago

    let mut r = Room::new(queue(Strategy::Fewestcalls), &["201", "202"]);
    for call in 1..=2 {
        r.join(call, "sales").unwrap();
        assert_eq!(r.rings(call), ["201"]);
        // 201 does not pick up; 202 is rung next and answers.
        r.no_answer(call);
        r.advance(5);
        assert_eq!(r.rings(call), ["202"]);
        r.answer(call, "202");
        r.end(call, End::CompletedByCaller);
    }
    r.join(3, "sales").unwrap();
    // 201 took no call, 202 two.
    assert_eq!(r.rings(3), ["201"]);
}

#[test]
fn random_and_wrandom_ring_one_free_member() {
    for strategy in [Strategy::Random, Strategy::Wrandom] {
        let mut r = Room::new(queue(strategy), &["201", "202", "203"]);
        let mut seen = std::collections::BTreeSet::new();
        for call in 1..=30 {
            r.join(call, "sales").unwrap();
            let rung = r.rings(call);
            assert_eq!(rung.len(), 1, "{strategy}");
            seen.insert(rung[0].clone());
            r.answer(call, &rung[0]);
            r.end(call, End::CompletedByCaller);
        }
        assert_eq!(seen.len(), 3, "{strategy}: {seen:?}");
    }
}

#[test]
fn paused_busy_and_wrapping_up_agents_are_not_rung() {
    let mut s = queue(Strategy::Ringall);
    s.wrapuptime = 10;
    let mut r = Room::new(s, &["201", "202", "203"]);
    let ms = r.ms();
    let changed = r.floor.change_member(
        MemberChange::Pause {
            queue: None,
            extension: "201".into(),
            paused: true,
            reason: "lunch".into(),
        },
        r.now,
        ms,
    );
    assert_eq!(changed, MemberResult::Done);
    assert_eq!(r.state("201"), AgentState::Paused);
    r.devices.insert("202".into(), Device::Busy); // on a direct call
    assert_eq!(r.state("202"), AgentState::OnCall);
    r.join(1, "sales").unwrap();
    assert_eq!(r.rings(1), ["203"]);
    r.answer(1, "203");
    r.end(1, End::CompletedByAgent);
    assert_eq!(r.state("203"), AgentState::WrapUp);
    r.join(2, "sales").unwrap();
    assert!(
        r.rings(2).is_empty(),
        "everyone is paused, busy or in wrap-up"
    );
    r.advance(10);
    assert_eq!(r.rings(2), ["203"]);
    let ev = r.events();
    assert_eq!(ev[0], (QueueEvent::Pause, "SIP/201".to_string()));
}

#[test]
fn penalties_ring_higher_levels_only_when_lower_are_busy() {
    let now = Instant::now();
    let mut r = Room::new(queue(Strategy::Ringall), &[]);
    r.floor.sync(
        vec![(
            queue(Strategy::Ringall),
            vec![member("sales", "201", 0), member("sales", "202", 5)],
        )],
        now,
    );
    r.devices.insert("201".into(), Device::Free);
    r.devices.insert("202".into(), Device::Free);
    r.join(1, "sales").unwrap();
    assert_eq!(r.rings(1), ["201"]);
    r.no_answer(1);
    r.devices.insert("201".into(), Device::Busy);
    r.advance(5);
    assert_eq!(r.rings(1), ["202"]);
}

#[test]
fn callers_are_answered_in_order_and_positions_move_up() {
    let mut s = queue(Strategy::Ringall);
    s.announce_frequency = 30;
    s.announce_position = true;
    let mut r = Room::new(s, &["201"]);
    r.devices.insert("201".into(), Device::Busy);
    assert_eq!(r.join(1, "sales"), Ok(1));
    assert_eq!(r.join(2, "sales"), Ok(2));
    // Both hear their position at once.
    let first: Vec<Action> = r.poll();
    assert!(first.contains(&Action::Announce {
        call: CallId(2),
        position: Some(2),
        holdtime: None
    }));
    r.devices.insert("201".into(), Device::Free);
    let rung = r.poll();
    assert_eq!(
        rung,
        [Action::Ring {
            call: CallId(1),
            members: vec!["201".into()],
            timeout: Duration::from_secs(15)
        }]
    );
    r.advance(20);
    r.answer(1, "201");
    r.advance(10);
    // 30 s after the first announcement caller 2 hears it is next.
    assert!(r.poll().contains(&Action::Announce {
        call: CallId(2),
        position: Some(1),
        holdtime: None
    }));
}

#[test]
fn abandon_timeout_and_empty_rules() {
    let mut s = queue(Strategy::Ringall);
    s.maxlen = 2;
    s.joinempty = EmptyRule::Paused;
    s.leavewhenempty = EmptyRule::Unavailable;
    let mut r = Room::new(s, &["201"]);
    r.devices.insert("201".into(), Device::Busy);
    r.join(1, "sales").unwrap();
    r.join(2, "sales").unwrap();
    assert_eq!(r.join(3, "sales"), Err(QueueStatus::Full));
    assert_eq!(r.join(3, "support"), Err(QueueStatus::Unknown));
    r.advance(7);
    r.end(1, End::Abandon);
    let ev = r.events();
    let abandon = ev.iter().find(|e| e.0 == QueueEvent::Abandon);
    assert!(abandon.is_some(), "{ev:?}");
    // The agent logs out (unregisters): caller 2 leaves, nobody can answer.
    r.devices.insert("201".into(), Device::Unregistered);
    assert_eq!(
        r.poll(),
        [Action::Exit {
            call: CallId(2),
            status: QueueStatus::Leaveempty
        }]
    );
    r.end(2, End::Abandon);
    assert_eq!(r.join(4, "sales"), Err(QueueStatus::Joinempty));
    let ev = r.events();
    assert!(ev.iter().any(|e| e.0 == QueueEvent::Exitempty), "{ev:?}");
    assert!(!ev.iter().any(|e| e.0 == QueueEvent::Abandon), "{ev:?}");

    // Queue()'s own timeout.
    let mut r = Room::new(queue(Strategy::Ringall), &["201"]);
    r.devices.insert("201".into(), Device::Busy);
    let devices = r.devices.clone();
    let ms = r.ms();
    r.floor
        .join(
            CallId(9),
            join_req(9, "sales", Some(Duration::from_secs(20))),
            r.now,
            ms,
            &|e| devices.get(e).copied().unwrap_or(Device::Unregistered),
        )
        .unwrap();
    assert!(r.poll().is_empty());
    // Nobody free: it looks again in a second (any input polls sooner).
    assert_eq!(
        r.floor.next_deadline(),
        Some(r.now + Duration::from_secs(1))
    );
    r.advance(20);
    assert_eq!(
        r.poll(),
        [Action::Exit {
            call: CallId(9),
            status: QueueStatus::Timeout
        }]
    );
}

#[test]
fn dynamic_members_and_weights() {
    let now = Instant::now();
    let mut floor = Floor::new(now, 1);
    let mut heavy = QueueSettings::new("vip");
    heavy.weight = 10;
    floor.sync(
        vec![(QueueSettings::new("sales"), vec![]), (heavy, vec![])],
        now,
    );
    for q in ["sales", "vip"] {
        let r = floor.change_member(
            MemberChange::Add {
                queue: q.into(),
                extension: "201".into(),
                penalty: 0,
            },
            now,
            0,
        );
        assert_eq!(r, MemberResult::Done);
    }
    // A snapshot that does not show the login yet keeps it.
    floor.sync(
        vec![
            (QueueSettings::new("sales"), vec![]),
            (
                {
                    let mut h = QueueSettings::new("vip");
                    h.weight = 10;
                    h
                },
                vec![],
            ),
        ],
        now,
    );
    let devices = |_: &str| Device::Free;
    let join = |q: &str, n: u64| Join {
        queue: q.into(),
        call_ref: format!("c{n}"),
        channel: format!("SIP/t-{n}"),
        caller: "555".into(),
        timeout: None,
        no_retry: false,
    };
    floor
        .join(CallId(1), join("sales", 1), now, 0, &devices)
        .unwrap();
    floor
        .join(CallId(2), join("vip", 2), now, 0, &devices)
        .unwrap();
    let actions = floor.poll(now, 0, &devices);
    // The heavier queue's caller gets the shared agent.
    assert_eq!(
        actions,
        [Action::Ring {
            call: CallId(2),
            members: vec!["201".into()],
            timeout: Duration::from_secs(15)
        }]
    );
    assert_eq!(
        floor.change_member(
            MemberChange::Remove {
                queue: "nope".into(),
                extension: "201".into()
            },
            now,
            0
        ),
        MemberResult::NoSuchQueue
    );
}

#[test]
fn a_static_member_cannot_log_out() {
    let now = Instant::now();
    let mut floor = Floor::new(now, 1);
    floor.sync(
        vec![(QueueSettings::new("sales"), vec![member("sales", "201", 0)])],
        now,
    );
    let remove = |ext: &str| MemberChange::Remove {
        queue: "sales".into(),
        extension: ext.into(),
    };
    assert_eq!(
        floor.change_member(remove("201"), now, 0),
        MemberResult::NotDynamic
    );
    assert_eq!(
        floor.change_member(remove("202"), now, 0),
        MemberResult::NoChange
    );
    // Nothing was logged for either, and 201 is still rung.
    assert!(floor.drain_log().is_empty());
    assert_eq!(floor.queues_of("201"), ["sales"]);
}
