//! What a caller types: DTMF from the media (RFC 4733, in-band) and from SIP INFO,
//! merged with hangup, with type-ahead kept for the next application.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::chan::{ChanEvent, Channel};
use crate::monitor::MonitorCmd;

/// One thing that happened while an application waited.
#[derive(Debug)]
pub enum Input {
    Digit(char),
    Timeout,
    Hangup,
    /// A command from the API for the monitor this channel runs.
    Remote(MonitorCmd),
}

/// A digit or any event from the switch.
#[derive(Debug)]
pub enum Either {
    Digit(char),
    Event(ChanEvent),
}

pub struct InputQueue {
    /// None once the bridge is gone (the call is ending; the switch says when).
    dtmf: Option<mpsc::UnboundedReceiver<char>>,
    /// Commands from the API steering the monitor this channel runs.
    remote: Option<mpsc::UnboundedReceiver<MonitorCmd>>,
    ahead: VecDeque<char>,
    hung_up: bool,
}

impl InputQueue {
    pub fn new(dtmf: mpsc::UnboundedReceiver<char>) -> InputQueue {
        InputQueue {
            dtmf: Some(dtmf),
            remote: None,
            ahead: VecDeque::new(),
            hung_up: false,
        }
    }

    /// Adds the commands of a monitor started from the API.
    pub fn set_remote(&mut self, rx: mpsc::UnboundedReceiver<MonitorCmd>) {
        self.remote = Some(rx);
    }

    pub fn push_back(&mut self, d: char) {
        self.ahead.push_back(d);
    }

    /// Forgets type-ahead (prompts that must not be skipped by old digits).
    pub fn clear(&mut self) {
        self.ahead.clear();
        if let Some(rx) = self.dtmf.as_mut() {
            while rx.try_recv().is_ok() {}
        }
    }

    /// The next digit or hangup; `timeout` None waits for ever.
    pub async fn next(&mut self, chan: &mut Channel, timeout: Option<Duration>) -> Input {
        match timeout {
            Some(t) => self.next_until(chan, Instant::now() + t).await,
            None => {
                self.next_until(chan, Instant::now() + Duration::from_secs(86_400 * 365))
                    .await
            }
        }
    }

    /// The next digit or channel event, whatever it is (an application that
    /// follows the switch's events itself: `Queue()`).
    pub async fn next_event(&mut self, chan: &mut Channel) -> Either {
        if let Some(d) = self.ahead.pop_front() {
            return Either::Digit(d);
        }
        loop {
            let dtmf = async {
                match self.dtmf.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                d = dtmf => match d {
                    Some(d) => return Either::Digit(d),
                    None => self.dtmf = None,
                },
                ev = chan.next_event() => {
                    if ev == ChanEvent::Hangup {
                        self.hung_up = true;
                    }
                    return match ev {
                        ChanEvent::Dtmf(d) => Either::Digit(d),
                        ev => Either::Event(ev),
                    };
                }
            }
        }
    }

    pub async fn next_until(&mut self, chan: &mut Channel, until: Instant) -> Input {
        if self.hung_up {
            return Input::Hangup;
        }
        if let Some(d) = self.ahead.pop_front() {
            return Input::Digit(d);
        }
        loop {
            let dtmf = async {
                match self.dtmf.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let remote = async {
                match self.remote.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                d = dtmf => match d {
                    Some(d) => return Input::Digit(d),
                    None => self.dtmf = None,
                },
                c = remote => match c {
                    Some(c) => return Input::Remote(c),
                    None => self.remote = None,
                },
                ev = chan.next_event() => match ev {
                    ChanEvent::Hangup => {
                        self.hung_up = true;
                        return Input::Hangup;
                    }
                    ChanEvent::Dtmf(d) => return Input::Digit(d),
                    ChanEvent::AnswerDone(_)
                    | ChanEvent::DialDone(_)
                    | ChanEvent::PlacedAnswered(_)
                    | ChanEvent::TakeOverDone(_)
                    | ChanEvent::Transferred(_)
                    | ChanEvent::ConferenceDone(_)
                    | ChanEvent::TransferDone { .. }
                    | ChanEvent::QueueJoined(_)
                    | ChanEvent::QueueAnnounce { .. }
                    | ChanEvent::QueuePeriodic(_)
                    | ChanEvent::QueueConnected { .. }
                    | ChanEvent::QueueExit(_)
                    | ChanEvent::QueueMemberDone(_) => {}
                },
                _ = tokio::time::sleep_until(until) => return Input::Timeout,
            }
        }
    }
}
