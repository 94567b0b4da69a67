//! Click-to-spy: a call the PBX places to a supervisor, with no caller phone (leg A
//! is virtual), whose channel task runs ChanSpy once the supervisor answers.
//!
//! Everything that can be decided before the supervisor's phone rings is decided
//! here, with a typed reason: no such call, no such supervisor, not registered,
//! already on a call, no grant for the mode or the call's groups (audited), no
//! media ports.

use std::net::SocketAddr;
use std::time::Instant;

use media::mix::SpyMode;
use media::sdp::Codec;
use sip::{new_call_id, new_tag, Method, NameAddr, Peer, Request, Transport};

use super::call::{Call, CallSetup, CallState, Leg};
use super::dialog::Dialog;
use super::output::{ChannelInfo, Output, Role, Spawn, SpawnKind};
use super::setup::epoch_ms;
use super::Switch;
use crate::events::Event;
use crate::monitor::{MonitorError, MonitorId};
use crate::permit::Policy;

impl Switch {
    /// Would [`Switch::start_monitor`] refuse, and why? Nothing is recorded: the
    /// shell asks first, and when the refusal comes from the configuration (no
    /// grant, no such supervisor) it fetches a fresher snapshot before the real
    /// attempt, so a grant made a moment ago counts.
    pub fn check_monitor(
        &self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
    ) -> Result<(), MonitorError> {
        self.monitor_checks(supervisor, target, mode)
            .map(drop)
            .map_err(|(e, _)| e)
    }

    /// The checks that depend on the configuration: the target, the supervisor,
    /// the grant. A refusal by the grant comes with the channel, for the audit.
    fn monitor_checks(
        &self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
    ) -> Result<ChannelInfo, (MonitorError, Option<Box<ChannelInfo>>)> {
        if self.shutting_down {
            let why = MonitorError::Unavailable("the PBX is stopping".into());
            return Err((why, None));
        }
        let policy = Policy::of(&self.config, supervisor);
        let channel = self
            .monitor_target(target, &policy, mode)
            .map_err(|e| (e, None))?;
        if self.config.extension(supervisor).is_none() {
            return Err((MonitorError::NoSuchSupervisor(supervisor.to_string()), None));
        }
        if let Err(denied) = policy.check_channel(&channel, &self.config, mode) {
            let reason = denied.reason(supervisor, &channel.endpoint);
            return Err((MonitorError::Forbidden(reason), Some(Box::new(channel))));
        }
        Ok(channel)
    }

    /// Checks the request, then places the call; the id steers the monitor.
    /// `target` is a call id from the API, or a channel name. A refusal by the
    /// grant is audited.
    pub fn start_monitor(
        &mut self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
        follow: model::Follow,
        now: Instant,
    ) -> Result<MonitorId, MonitorError> {
        let channel = match self.monitor_checks(supervisor, target, mode) {
            Ok(c) => c,
            Err((MonitorError::Forbidden(reason), Some(channel))) => {
                tracing::warn!(%supervisor, target = %channel.name, "click-to-spy refused: {reason}");
                self.audit_denied(supervisor, &channel, mode, &reason, now);
                return Err(MonitorError::Forbidden(reason));
            }
            Err((e, _)) => return Err(e),
        };
        if self.registrar.lookup(supervisor, now).is_empty() {
            return Err(MonitorError::NotRegistered(supervisor.to_string()));
        }
        // On a call, or already being rung for another monitor.
        let ringing_for_monitor = self
            .calls
            .values()
            .any(|c| c.virtual_a && c.dialled == supervisor && c.state != CallState::Ending);
        if ringing_for_monitor || self.channels.iter().any(|c| c.endpoint == supervisor) {
            return Err(MonitorError::SupervisorBusy(supervisor.to_string()));
        }
        let bridge = self
            .media
            .open()
            .map_err(|e| MonitorError::Unavailable(e.to_string()))?;
        let id = self.new_call_id();
        let wall = self.wall(now);
        let monitor = MonitorId(format!(
            "mon-{}-{:06x}",
            id.0,
            rand::random::<u32>() & 0xff_ffff
        ));
        let name = format!("Local/monitor-{:08x}", id.0);
        let me = NameAddr {
            display: None,
            uri: self.local_uri(supervisor),
            params: Vec::new(),
        };
        // What the supervisor's phone shows as the caller: what is being monitored.
        let shown = NameAddr {
            display: Some(format!(
                "{} {}",
                capitalised(mode.as_str()),
                channel.endpoint
            )),
            uri: self.local_uri(&channel.endpoint),
            params: Vec::new(),
        };
        let dialog = Dialog {
            call_id: new_call_id(&self.via_host.to_string()),
            local_tag: new_tag(),
            remote_tag: String::new(),
            local: me.clone(),
            remote: shown,
            remote_target: me.uri.clone(),
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer: Peer::new(Transport::Udp, SocketAddr::from(([0, 0, 0, 0], 0))),
        };
        let setup = CallSetup {
            caller: channel.endpoint.clone(),
            dialled: supervisor.to_string(),
            codecs: vec![Codec::pcmu(), Codec::pcma()],
            dtmf: Some(Codec::telephone_event(101)),
            ptime: Some(20),
        };
        let a = Leg {
            channel: name.clone(),
            dialog,
            crypto: None,
            session: None,
        };
        let invite = Request::new(Method::Invite, me.uri.clone());
        let mut call = Call::new(id, a, invite, bridge, setup, wall);
        // Placed by the PBX: answered from the start on its (phoneless) A side.
        call.state = CallState::Answered;
        call.answered = Some(wall);
        call.virtual_a = true;
        // Like the seed's feature codes: monitoring is audited, not billed.
        call.no_cdr = true;
        let call_ref = call.public_id.clone();
        self.calls.insert(id, call);
        self.emit(Event::CallStart {
            call: call_ref.clone(),
            channel: name.clone(),
            caller: supervisor.to_string(),
            dialled: supervisor.to_string(),
        });
        tracing::info!(%monitor, %supervisor, target = %channel.name, ?mode, "click-to-spy: ringing the supervisor");
        self.out.push_back(Output::Spawn(Spawn {
            call: id,
            bridge: bridge.id,
            channel: name,
            kind: SpawnKind::ClickToSpy {
                monitor: monitor.clone(),
                supervisor: supervisor.to_string(),
                target: channel.name.clone(),
                mode,
                follow,
            },
        }));
        Ok(monitor)
    }

    /// The channel a click-to-spy request means: a channel by name, or for a call
    /// id the party the supervisor may monitor (the callee, the agent who answered,
    /// when both may be).
    fn monitor_target(
        &self,
        target: &str,
        policy: &Policy,
        mode: SpyMode,
    ) -> Result<ChannelInfo, MonitorError> {
        let spyable = |c: &&ChannelInfo| !c.in_chanspy;
        if let Some(c) = self.channels.get(target).filter(spyable) {
            return Ok(c.clone());
        }
        let mut parties: Vec<&ChannelInfo> = self
            .channels
            .iter()
            .filter(|c| c.call_ref == target)
            .filter(spyable)
            .collect();
        // Callees first: the agent who answered is whom a supervisor means.
        parties.sort_by_key(|c| (c.role != Role::Callee, c.trunk));
        let allowed = parties
            .iter()
            .find(|c| policy.check_channel(c, &self.config, mode).is_ok());
        allowed
            .or(parties.first())
            .map(|c| (*c).clone())
            .ok_or_else(|| MonitorError::NoSuchCall(target.to_string()))
    }

    fn audit_denied(
        &mut self,
        supervisor: &str,
        target: &ChannelInfo,
        mode: SpyMode,
        reason: &str,
        now: Instant,
    ) {
        let wall = self.wall(now);
        let attempt = store::MonitorStart {
            id: format!("{}-{:08x}", epoch_ms(wall), rand::random::<u32>()),
            supervisor: supervisor.to_string(),
            // No channel of the supervisor's exists yet: the request came from the API.
            supervisor_channel: format!("API/{supervisor}"),
            target_endpoint: target.endpoint.clone(),
            target_channel: target.name.clone(),
            peer_channel: target.bridged_to.clone(),
            mode: mode.as_str().into(),
            started_at: wall,
        };
        self.store(store::Write::MonitorDenied {
            attempt,
            reason: reason.to_string(),
        });
        self.emit(Event::MonitorDenied {
            supervisor: supervisor.to_string(),
            target_channel: target.name.clone(),
            mode: mode.as_str().into(),
            reason: reason.to_string(),
            session: None,
        });
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}
