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
        self.place_monitor(supervisor, target, mode, follow, None, now)
            .map(|(id, _)| id)
    }

    /// Click-to-spy to a browser: as [`Switch::start_monitor`], but the
    /// supervisor's leg is a WebRTC leg already answered, whose audio the WebRTC
    /// gateway exchanges as plain PCMU with `browser` (a loopback socket). No phone
    /// rings and none need be registered. Ok carries the monitor's id and the
    /// bridge port the gateway sends the browser's audio to.
    pub fn start_browser_monitor(
        &mut self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
        follow: model::Follow,
        browser: SocketAddr,
        now: Instant,
    ) -> Result<(MonitorId, u16), MonitorError> {
        self.place_monitor(supervisor, target, mode, follow, Some(browser), now)
    }

    fn place_monitor(
        &mut self,
        supervisor: &str,
        target: &str,
        mode: SpyMode,
        follow: model::Follow,
        browser: Option<SocketAddr>,
        now: Instant,
    ) -> Result<(MonitorId, u16), MonitorError> {
        let channel = match self.monitor_checks(supervisor, target, mode) {
            Ok(c) => c,
            Err((MonitorError::Forbidden(reason), Some(channel))) => {
                tracing::warn!(%supervisor, target = %channel.name, "click-to-spy refused: {reason}");
                self.audit_denied(supervisor, &channel, mode, &reason, now);
                return Err(MonitorError::Forbidden(reason));
            }
            Err((e, _)) => return Err(e),
        };
        // A desk phone must be registered and free; a browser brings its own leg
        // (and a supervisor on a phone call may listen to another in the browser).
        if browser.is_none() {
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
        let b = browser.map(|_| Leg {
            channel: self.namer.name(supervisor),
            dialog: a.dialog.clone(),
            crypto: None,
            session: None,
        });
        let mut call = Call::new(id, a, invite, bridge, setup, wall);
        // Placed by the PBX: answered from the start on its (phoneless) A side.
        call.state = CallState::Answered;
        call.answered = Some(wall);
        call.virtual_a = true;
        // Like the seed's feature codes: monitoring is audited, not billed.
        call.no_cdr = true;
        let call_ref = call.public_id.clone();
        let answered = b.as_ref().map(|b| b.channel.clone());
        if b.is_some() {
            call.b = b;
            call.virtual_b = true;
        }
        self.calls.insert(id, call);
        self.emit(Event::CallStart {
            call: call_ref.clone(),
            channel: name.clone(),
            caller: supervisor.to_string(),
            dialled: supervisor.to_string(),
        });
        match (&answered, browser) {
            (Some(b_channel), Some(rtp)) => {
                self.browser_leg_up(
                    &call_ref, &name, b_channel, supervisor, bridge.id, rtp, wall,
                );
                tracing::info!(%monitor, %supervisor, target = %channel.name, ?mode, "click-to-spy: to the supervisor's browser");
            }
            _ => {
                tracing::info!(%monitor, %supervisor, target = %channel.name, ?mode, "click-to-spy: ringing the supervisor")
            }
        }
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
                answered,
            },
        }));
        Ok((monitor, bridge.ports[1]))
    }

    /// The browser's leg is answered from the start: side B's media goes to the
    /// WebRTC gateway's loopback socket (PCMU), and the supervisor's channel is
    /// up and bridged as a phone's would be on its 200 OK.
    #[allow(clippy::too_many_arguments)]
    fn browser_leg_up(
        &mut self,
        call_ref: &str,
        a_channel: &str,
        b_channel: &str,
        supervisor: &str,
        bridge: super::BridgeId,
        rtp: SocketAddr,
        wall: std::time::SystemTime,
    ) {
        use super::output::MediaOp;
        use media::Side;
        self.media_op(
            bridge,
            MediaOp::SetSrtp {
                side: Side::B,
                keys: None,
            },
        );
        self.media_op(
            bridge,
            MediaOp::SetRemote {
                side: Side::B,
                rtp,
                // The gateway takes RTCP on its one socket (and drops it).
                rtcp: Some(rtp),
                payload_types: [0u8].into_iter().collect(),
            },
        );
        self.media_op(
            bridge,
            MediaOp::SetCodec {
                side: Side::B,
                codec: media::codec::AudioCodec::Pcmu,
                dtmf_pt: None,
            },
        );
        let leg = ChannelInfo::party(
            b_channel.to_string(),
            call_ref.to_string(),
            supervisor.to_string(),
            supervisor.to_string(),
            bridge,
            Side::B,
            Role::Callee,
            epoch_ms(wall),
        );
        self.channels.up(leg, &mut self.out);
        self.channels.bridge(a_channel, b_channel, &mut self.out);
        self.emit(Event::CallAnswer {
            call: call_ref.to_string(),
            channel: a_channel.to_string(),
            peer: b_channel.to_string(),
        });
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
