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
use media::sdp::{Codec, SdpOrigin};
use sip::{new_call_id, new_tag, Method, NameAddr, Peer, Request, Transport};

use super::call::{Call, CallState, Leg};
use super::dialog::Dialog;
use super::output::{ChannelInfo, Output, Role, Spawn, SpawnKind};
use super::setup::{epoch_ms, public_id};
use super::Switch;
use crate::events::Event;
use crate::monitor::{MonitorError, MonitorId};
use crate::permit::{channel_groups, mode_name, Policy};

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
        self.monitor_checks(supervisor, target, mode).map(|_| ())
    }

    /// The checks that depend on the configuration: the target, the supervisor,
    /// the grant. Err(Forbidden) comes with the channel, for the audit record.
    fn monitor_checks(
        &self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
    ) -> Result<ChannelInfo, MonitorError> {
        if self.shutting_down {
            return Err(MonitorError::Unavailable("the PBX is stopping".into()));
        }
        let policy = Policy::of(&self.config, supervisor);
        let channel = self.monitor_target(target, &policy, mode)?;
        if self.config.extension(supervisor).is_none() {
            return Err(MonitorError::NoSuchSupervisor(supervisor.to_string()));
        }
        let groups = self.groups_of(&channel);
        if let Err(denied) = policy.check(groups.iter().map(String::as_str), mode) {
            return Err(MonitorError::Forbidden(
                denied.reason(supervisor, &channel.endpoint),
            ));
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
        now: Instant,
    ) -> Result<MonitorId, MonitorError> {
        let channel = match self.monitor_checks(supervisor, target, mode) {
            Ok(c) => c,
            Err(MonitorError::Forbidden(reason)) => {
                let policy = Policy::of(&self.config, supervisor);
                if let Ok(channel) = self.monitor_target(target, &policy, mode) {
                    tracing::warn!(%supervisor, target = %channel.name, "click-to-spy refused: {reason}");
                    self.audit_denied(supervisor, &channel, mode, &reason, now);
                }
                return Err(MonitorError::Forbidden(reason));
            }
            Err(e) => return Err(e),
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
                capitalised(mode_name(mode)),
                channel.endpoint
            )),
            uri: self.local_uri(&channel.endpoint),
            params: Vec::new(),
        };
        let dialog = Dialog {
            call_id: new_call_id(&self.via_host),
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
        let call_ref = public_id(wall, id);
        let call = Call {
            public_id: call_ref.clone(),
            state: CallState::Answered,
            a: Leg {
                channel: name.clone(),
                dialog,
            },
            b: None,
            dial: None,
            invite_tx: None,
            invite: Request::new(Method::Invite, me.uri.clone()),
            bridge: Some(bridge),
            codecs: vec![Codec::pcmu(), Codec::pcma()],
            dtmf: Some(Codec::telephone_event(101)),
            ptime: Some(20),
            a_origin: SdpOrigin::new(),
            b_origin: SdpOrigin::new(),
            caller: channel.endpoint.clone(),
            dialled: supervisor.to_string(),
            started: wall,
            answered: Some(wall),
            late_offer: false,
            early_media: false,
            trunk: None,
            virtual_a: true,
            fail_status: 480,
            // Like the seed's feature codes: monitoring is audited, not billed.
            no_cdr: true,
            recorded: false,
        };
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
        let allowed = parties.iter().find(|c| {
            let groups = self.groups_of(c);
            policy
                .check(groups.iter().map(String::as_str), mode)
                .is_ok()
        });
        allowed
            .or(parties.first())
            .map(|c| (*c).clone())
            .ok_or_else(|| MonitorError::NoSuchCall(target.to_string()))
    }

    fn groups_of(&self, c: &ChannelInfo) -> Vec<String> {
        channel_groups(&self.config, &c.spygroup, &c.endpoint, c.inbound.as_deref())
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
            mode: mode_name(mode).into(),
            started_at: wall,
        };
        self.store(store::Write::MonitorDenied {
            attempt,
            reason: reason.to_string(),
        });
        self.emit(Event::MonitorDenied {
            supervisor: supervisor.to_string(),
            target_channel: target.name.clone(),
            mode: mode_name(mode).into(),
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
