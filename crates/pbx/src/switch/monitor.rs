//! Click-to-spy: a call the PBX places to a supervisor, with no caller phone (leg A
//! is virtual), whose channel task runs ChanSpy once the supervisor answers.

use std::net::SocketAddr;
use std::time::SystemTime;

use media::mix::SpyMode;
use media::sdp::{Codec, SdpOrigin};
use sip::{new_call_id, new_tag, Method, NameAddr, Peer, Request, Transport};
use tokio::sync::mpsc;

use super::call::{Call, CallState, Leg};
use super::dialog::Dialog;
use super::Switch;
use crate::chan::{self, CallerInfo, Channel};

impl Switch {
    /// Checks the request, then places the call; the id steers the monitor.
    pub(super) async fn start_monitor(
        &mut self,
        supervisor: String,
        target: String,
        mode: SpyMode,
    ) -> Result<String, String> {
        if self.registry.get(&target).is_none() {
            return Err(format!("no live channel {target:?}"));
        }
        match self.store.get_extension(&supervisor).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("no extension {supervisor:?}")),
            Err(e) => return Err(format!("store: {e}")),
        }
        if self
            .registrar
            .lookup(&supervisor, std::time::Instant::now())
            .is_empty()
        {
            return Err(format!("extension {supervisor} is not registered"));
        }
        let bridge = self.media.open_bridge().await.map_err(|e| e.to_string())?;
        let media = bridge.control();
        let id = self.next_call;
        self.next_call += 1;
        let monitor = format!("mon-{id}-{:06x}", rand::random::<u32>() & 0xff_ffff);
        let name = format!("Local/monitor-{id:08x}");
        let me = NameAddr {
            display: None,
            uri: self.local_uri(&supervisor),
            params: Vec::new(),
        };
        let dialog = Dialog {
            call_id: new_call_id(&self.via_host),
            local_tag: new_tag(),
            remote_tag: String::new(),
            local: me.clone(),
            remote: me.clone(),
            remote_target: me.uri.clone(),
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer: Peer::new(Transport::Udp, SocketAddr::from(([0, 0, 0, 0], 0))),
        };
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let call = Call {
            id,
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
            caller: supervisor.clone(),
            dialled: target.clone(),
            started: SystemTime::now(),
            answered: Some(SystemTime::now()),
            early_media: false,
            events: events_tx,
            trunk: None,
            virtual_a: true,
            fail_status: 480,
            // Like the seed's feature codes: monitoring is audited, not billed.
            no_cdr: true,
            recorded: false,
        };
        self.calls.insert(id, call);
        let caller = CallerInfo {
            endpoint: supervisor.clone(),
            number: supervisor.clone(),
            name: None,
            context: "from-internal".into(),
            trunk: None,
        };
        let chan = Channel::new(
            id,
            name,
            caller,
            target.clone(),
            self.chan_requests.clone(),
            events_rx,
        );
        tracing::info!(%monitor, %supervisor, %target, ?mode, "click-to-spy: ringing the supervisor");
        tokio::spawn(chan::run_click_to_spy(
            chan,
            self.app_env(),
            media,
            supervisor,
            target,
            mode,
            monitor.clone(),
            self.monitors.clone(),
        ));
        Ok(monitor)
    }
}
