//! A barge that becomes a conference (DTMF `8` with `d`, the API's `conference`
//! mode): the switch stops ending the call with either party (`switch/conference.rs`),
//! both parties and the supervisor become members of the room `call-<call id>`, and
//! the spy hook goes. From then on the room goes on while anyone is in it: the
//! agent may leave and the client stays with the supervisor, or the supervisor
//! leaves and the two go on. The monitoring session lasts while the supervisor is
//! in the room, and its audit trail shows the `conference` mode.
//!
//! The parties are members without a task of their own: their call's bridge sends
//! what each phone says to the room and plays the room to it
//! (`Conferences::adopt`); a spy on either hears the room.

use super::{refusal_tone, SpyEnd, SpyOptions, Steer};
use crate::apps::PbxHost;
use crate::conference::UserFlags;
use crate::monitor::MonitorError;
use crate::registry::ChannelEntry;
use media::mix::SpyMode;

use super::session::SpySession;

impl PbxHost {
    /// Asks the switch to make the spied call a conference; on success the session
    /// leaves its loop and goes on in the room.
    pub(super) async fn conference_mode(
        &mut self,
        s: &mut Steer<'_>,
        session: &mut SpySession,
        _opts: &SpyOptions,
    ) -> Result<(), MonitorError> {
        let room = format!("call-{}", s.t.info.call_ref);
        if let Err(refused) = self.chan.conference(&s.t.info.name, &room).await {
            let why = refused.to_string();
            session.mode_refused(SpyMode::Conference, s.t, why.clone());
            s.cue.play(refusal_tone());
            return Err(MonitorError::TakenOver(why));
        }
        s.mode = SpyMode::Conference;
        s.conference = Some(room);
        session.mode_changed(SpyMode::Conference);
        Ok(())
    }

    /// Both parties of the spied call join `room`.
    pub(super) fn adopt_call(&self, t: &ChannelEntry, client: Option<&String>, room: &str) {
        let confs = &self.env.conferences;
        let registry = &self.env.registry;
        let hangup = self.chan.requester();
        confs.adopt(room, t.clone(), registry.clone(), hangup.clone());
        if let Some(peer) = client.and_then(|c| registry.get(c)) {
            confs.adopt(room, peer, registry.clone(), hangup);
        }
    }

    /// The supervisor in the room (admin and marked) until they leave it.
    pub(super) async fn supervisor_in_room(&mut self, room: &str) -> (SpyEnd, &'static str) {
        let flags = UserFlags {
            admin: true,
            marked: true,
            quiet: true,
            ..Default::default()
        };
        match self.in_room(room, flags, false).await {
            crate::apps::confbridge::Left::Hangup => {
                (SpyEnd::Hangup, "supervisor left the conference (hung up)")
            }
            _ => (SpyEnd::Exit, "supervisor left the conference"),
        }
    }
}
