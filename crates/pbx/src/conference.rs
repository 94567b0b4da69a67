//! Conference rooms (`ConfBridge`): who is in which room, with which rights, as
//! channel tasks and the API see it. The mixing itself is `media::conf::Room`; a
//! room exists from its first member's join until its last member leaves.
//!
//! One owner for this state: the registry below, behind one mutex. Channel tasks
//! join and leave (a [`Membership`] leaves when dropped, so a task that ends any
//! way leaves); the API lists rooms, mutes and kicks. Each change is an event and
//! bumps the room's version, which members watch (a `wait_marked` member waits
//! for a marked one; an `end_marked` member leaves with the last marked one).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use media::conf::{Joined, MemberId, Room};
use tokio::sync::{watch, Notify};

use crate::events::{Event, EventBus};

/// What a member may do and how it joins (from its user profile).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserFlags {
    /// May mute and kick others (Asterisk's `admin`).
    pub admin: bool,
    /// Others may wait for this member (`marked`).
    pub marked: bool,
    /// Joins muted (`startmuted`).
    pub start_muted: bool,
    /// No join or leave beep for this member (`quiet`).
    pub quiet: bool,
    /// Hears music, and is not heard, until a marked member is in (`wait_marked`).
    pub wait_marked: bool,
    /// Leaves when the last marked member leaves (`end_marked`).
    pub end_marked: bool,
}

/// Why the API could not act on a member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    #[error("no conference {0:?}")]
    NoSuchRoom(String),
    #[error("channel {1:?} is not in conference {0:?}")]
    NoSuchMember(String, String),
    #[error("{0} must be -4 to 4, not {1}")]
    Volume(&'static str, i32),
}

pub use model::{ConfMember as MemberInfo, ConfRoom as RoomInfo};

struct Entry {
    mixer: Room,
    started: u64,
    members: Vec<Member>,
    version: watch::Sender<u64>,
}

struct Member {
    info: MemberInfo,
    id: MemberId,
    flags: UserFlags,
    kicked: Arc<Notify>,
}

impl Entry {
    fn marked(&self) -> usize {
        self.members.iter().filter(|m| m.flags.marked).count()
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

/// Every live conference room.
#[derive(Clone)]
pub struct Conferences {
    rooms: Arc<Mutex<BTreeMap<String, Entry>>>,
    events: EventBus,
}

/// A channel's place in a room; dropping it leaves the room.
pub struct Membership {
    confs: Conferences,
    pub room: String,
    pub channel: String,
    id: MemberId,
    /// The mixer: its pipe for what the phone says, its source of what it hears.
    pub media: Option<Joined>,
    /// Woken when the API kicks this member.
    pub kicked: Arc<Notify>,
    /// Moves on every change of the room (joins, leaves, mutes).
    pub changes: watch::Receiver<u64>,
    pub flags: UserFlags,
    /// Why it left, for the event (set before dropping).
    pub reason: &'static str,
}

/// The room `room` and the index of `channel` among its members.
fn member_of<'a>(
    rooms: &'a mut BTreeMap<String, Entry>,
    room: &str,
    channel: &str,
) -> Result<(&'a mut Entry, usize), ConfError> {
    let entry = rooms
        .get_mut(room)
        .ok_or_else(|| ConfError::NoSuchRoom(room.to_string()))?;
    let i = entry
        .members
        .iter()
        .position(|m| m.info.channel == channel)
        .ok_or_else(|| ConfError::NoSuchMember(room.to_string(), channel.to_string()))?;
    Ok((entry, i))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Conferences {
    pub fn new(events: EventBus) -> Conferences {
        Conferences {
            rooms: Arc::default(),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `channel` to `room` (made if new).
    pub fn join(&self, room: &str, channel: &str, endpoint: &str, flags: UserFlags) -> Membership {
        let mut rooms = self.lock();
        let entry = rooms.entry(room.to_string()).or_insert_with(|| Entry {
            mixer: Room::new(),
            started: now_ms(),
            members: Vec::new(),
            version: watch::channel(0).0,
        });
        let waiting = flags.wait_marked && !flags.marked && entry.marked() == 0;
        let joined = entry.mixer.join(flags.start_muted || waiting, waiting);
        let kicked = Arc::new(Notify::new());
        entry.members.push(Member {
            info: MemberInfo {
                channel: channel.to_string(),
                endpoint: endpoint.to_string(),
                admin: flags.admin,
                marked: flags.marked,
                muted: flags.start_muted,
                waiting,
                talk_volume: 0,
                listen_volume: 0,
                joined: now_ms(),
            },
            id: joined.id,
            flags,
            kicked: kicked.clone(),
        });
        let id = joined.id;
        let changes = entry.version.subscribe();
        if flags.marked {
            self.wake_waiting(entry);
        }
        entry.bump();
        drop(rooms);
        tracing::info!(%room, %channel, ?flags, "joined the conference");
        self.events.emit(Event::ConferenceJoin {
            room: room.to_string(),
            channel: channel.to_string(),
            endpoint: endpoint.to_string(),
        });
        Membership {
            confs: self.clone(),
            room: room.to_string(),
            channel: channel.to_string(),
            id,
            media: Some(joined),
            kicked,
            changes,
            flags,
            reason: "hangup",
        }
    }

    /// Members waiting for a marked member hear the room and are heard now.
    fn wake_waiting(&self, entry: &mut Entry) {
        for m in entry.members.iter_mut().filter(|m| m.info.waiting) {
            m.info.waiting = false;
            let muted = m.info.muted;
            entry.mixer.update(m.id, |s| {
                s.deaf = false;
                s.muted = muted;
            });
        }
    }

    fn leave(&self, room: &str, channel: &str, id: MemberId, reason: &str) {
        let mut rooms = self.lock();
        let Some(entry) = rooms.get_mut(room) else {
            return;
        };
        entry.members.retain(|m| m.id != id);
        let ended = entry.members.is_empty();
        entry.bump();
        if ended {
            rooms.remove(room);
        }
        drop(rooms);
        tracing::info!(%room, %channel, reason, "left the conference");
        self.events.emit(Event::ConferenceLeave {
            room: room.to_string(),
            channel: channel.to_string(),
            reason: reason.to_string(),
        });
        if ended {
            tracing::info!(%room, "conference ended: its last member left");
            self.events.emit(Event::ConferenceEnd {
                room: room.to_string(),
            });
        }
    }

    /// Every room, by name, members in joining order.
    pub fn list(&self) -> Vec<RoomInfo> {
        self.lock()
            .iter()
            .map(|(name, e)| RoomInfo {
                name: name.clone(),
                started: e.started,
                members: e.members.iter().map(|m| m.info.clone()).collect(),
            })
            .collect()
    }

    /// Mutes or unmutes one member (the API, an admin, or the member itself).
    pub fn set_muted(&self, room: &str, channel: &str, muted: bool) -> Result<(), ConfError> {
        let mut rooms = self.lock();
        let (entry, i) = member_of(&mut rooms, room, channel)?;
        let m = &mut entry.members[i];
        if m.info.muted == muted {
            return Ok(());
        }
        m.info.muted = muted;
        let (id, waiting) = (m.id, m.info.waiting);
        entry.mixer.update(id, |s| s.muted = muted || waiting);
        entry.bump();
        drop(rooms);
        tracing::info!(%room, %channel, muted, "conference member muted");
        self.events.emit(Event::ConferenceMute {
            room: room.to_string(),
            channel: channel.to_string(),
            muted,
        });
        Ok(())
    }

    /// Applies an API change (mute, volumes) to one member; nothing when invalid.
    pub fn change(
        &self,
        room: &str,
        channel: &str,
        c: &model::ConfChange,
    ) -> Result<(), ConfError> {
        let volume = |what, v: Option<i32>| -> Result<Option<media::mix::VolumeStep>, ConfError> {
            v.map(|v| media::mix::VolumeStep::new(v).map_err(|_| ConfError::Volume(what, v)))
                .transpose()
        };
        let talk = volume("talk_volume", c.talk_volume)?;
        let listen = volume("listen_volume", c.listen_volume)?;
        {
            let mut rooms = self.lock();
            let (entry, i) = member_of(&mut rooms, room, channel)?;
            let m = &mut entry.members[i];
            if let Some(t) = talk {
                m.info.talk_volume = t.get();
            }
            if let Some(l) = listen {
                m.info.listen_volume = l.get();
            }
            let id = m.id;
            entry.mixer.update(id, |s| {
                if let Some(t) = talk {
                    s.talk = t;
                }
                if let Some(l) = listen {
                    s.listen = l;
                }
            });
            entry.bump();
        }
        match c.muted {
            Some(muted) => self.set_muted(room, channel, muted),
            None => Ok(()),
        }
    }

    /// An admin's key: mutes (or unmutes) every member but the admins.
    pub fn mute_others(&self, room: &str, muted: bool) {
        let others: Vec<String> = self
            .lock()
            .get(room)
            .map(|e| {
                e.members
                    .iter()
                    .filter(|m| !m.flags.admin)
                    .map(|m| m.info.channel.clone())
                    .collect()
            })
            .unwrap_or_default();
        for channel in others {
            let _ = self.set_muted(room, &channel, muted);
        }
    }

    /// An admin's key: kicks the member who joined last, admins aside.
    pub fn kick_last(&self, room: &str) -> Option<String> {
        let last = self.lock().get(room).and_then(|e| {
            e.members
                .iter()
                .rev()
                .find(|m| !m.flags.admin)
                .map(|m| m.info.channel.clone())
        })?;
        self.kick(room, &last).ok()?;
        Some(last)
    }

    /// Asks one member to leave; its ConfBridge returns with `KICKED`.
    pub fn kick(&self, room: &str, channel: &str) -> Result<(), ConfError> {
        let mut rooms = self.lock();
        let (entry, i) = member_of(&mut rooms, room, channel)?;
        entry.members[i].kicked.notify_one();
        tracing::info!(%room, %channel, "conference member kicked");
        Ok(())
    }

    /// Plays `sound` to the room (a join or leave beep), if it still exists.
    pub fn play(&self, room: &str, sound: Box<dyn media::tone::FrameSource + Send>) {
        if let Some(e) = self.lock().get(room) {
            e.mixer.play(sound);
        }
    }

    /// Whether the room has a marked member now.
    pub fn has_marked(&self, room: &str) -> bool {
        self.lock().get(room).is_some_and(|e| e.marked() > 0)
    }

    /// Whether this member still waits for a marked member.
    pub fn waiting(&self, room: &str, channel: &str) -> bool {
        self.lock().get(room).is_some_and(|e| {
            e.members
                .iter()
                .any(|m| m.info.channel == channel && m.info.waiting)
        })
    }
}

/// How often an adopted member checks that its channel is still on its call.
const PRESENCE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl Conferences {
    /// Makes a phone of a live call a member without a task of its own (a barge
    /// turned into a conference): its bridge side sends what the phone says to the
    /// room and plays the room to it, until its channel leaves the call. A kick
    /// hangs that leg up (through `requester`).
    pub fn adopt(
        &self,
        room: &str,
        entry: crate::registry::ChannelEntry,
        registry: crate::registry::Registry,
        requester: crate::chan::ChanRequester,
    ) {
        let member = |e: &Entry| e.members.iter().any(|m| m.info.channel == entry.info.name);
        if self.lock().get(room).is_some_and(member) {
            // Already in (a second supervisor made the same call a conference).
            return;
        }
        let mut m = self.join(
            room,
            &entry.info.name,
            &entry.info.endpoint,
            UserFlags::default(),
        );
        let Some(joined) = m.media.take() else {
            return;
        };
        let side = entry.info.side;
        entry.bridge.talk_to(side, Some(joined.says));
        entry.bridge.hold_music(side, Some(Box::new(joined.hears)));
        tokio::spawn(async move {
            let name = entry.info.name.clone();
            loop {
                let kicked = m.kicked.clone();
                tokio::select! {
                    _ = kicked.notified() => {
                        m.reason = "kicked";
                        requester.hangup_channel(&name);
                        break;
                    }
                    _ = tokio::time::sleep(PRESENCE_EVERY) => {
                        let here = registry
                            .get(&name)
                            .is_some_and(|e| e.info.bridge == entry.info.bridge);
                        if !here || entry.bridge.is_closed() {
                            break;
                        }
                    }
                }
            }
            drop(m);
        });
    }
}

impl Membership {
    /// This member's mute state, as the room has it.
    pub fn muted(&self) -> bool {
        let rooms = self.confs.lock();
        rooms
            .get(&self.room)
            .and_then(|e| e.members.iter().find(|m| m.id == self.id))
            .is_some_and(|m| m.info.muted)
    }

    /// Changes this member's talk or listen volume (its own keys).
    pub fn set_volume(
        &self,
        talk: Option<media::mix::VolumeStep>,
        listen: Option<media::mix::VolumeStep>,
    ) {
        let change = model::ConfChange {
            muted: None,
            talk_volume: talk.map(|v| v.get()),
            listen_volume: listen.map(|v| v.get()),
        };
        let _ = self.confs.change(&self.room, &self.channel, &change);
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        // The mixer first, so the room's sum loses this member before the listing.
        self.media = None;
        self.confs
            .leave(&self.room, &self.channel, self.id, self.reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confs() -> Conferences {
        Conferences::new(EventBus::new())
    }

    #[test]
    fn rooms_live_from_the_first_join_to_the_last_leave() {
        let c = confs();
        let a = c.join("800", "SIP/101-1", "101", UserFlags::default());
        let b = c.join(
            "800",
            "SIP/102-2",
            "102",
            UserFlags {
                admin: true,
                ..Default::default()
            },
        );
        let list = c.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "800");
        let chans: Vec<_> = list[0]
            .members
            .iter()
            .map(|m| (m.channel.as_str(), m.admin))
            .collect();
        assert_eq!(chans, [("SIP/101-1", false), ("SIP/102-2", true)]);
        drop(a);
        assert_eq!(c.list()[0].members.len(), 1);
        drop(b);
        assert!(c.list().is_empty(), "the room ends with its last member");
    }

    #[test]
    fn mute_and_kick_name_a_member_of_a_room() {
        let c = confs();
        let a = c.join("800", "SIP/101-1", "101", UserFlags::default());
        assert_eq!(c.set_muted("800", "SIP/101-1", true), Ok(()));
        assert!(a.muted());
        assert_eq!(
            c.set_muted("801", "SIP/101-1", true),
            Err(ConfError::NoSuchRoom("801".into()))
        );
        assert_eq!(
            c.kick("800", "SIP/999-9"),
            Err(ConfError::NoSuchMember("800".into(), "SIP/999-9".into()))
        );
        assert_eq!(c.kick("800", "SIP/101-1"), Ok(()));
    }

    #[test]
    fn waiting_members_wait_for_a_marked_one() {
        let c = confs();
        let wait = UserFlags {
            wait_marked: true,
            ..Default::default()
        };
        let a = c.join("800", "SIP/101-1", "101", wait);
        assert!(c.waiting("800", "SIP/101-1"));
        assert!(!c.has_marked("800"));
        let m = c.join(
            "800",
            "SIP/102-2",
            "102",
            UserFlags {
                marked: true,
                ..Default::default()
            },
        );
        assert!(!c.waiting("800", "SIP/101-1"), "a marked member came");
        assert!(c.has_marked("800"));
        drop(m);
        assert!(!c.has_marked("800"));
        drop(a);
    }

    #[test]
    fn volumes_and_an_admins_keys() {
        let c = confs();
        let admin = UserFlags {
            admin: true,
            ..Default::default()
        };
        let _a = c.join("800", "SIP/101-1", "101", admin);
        let _b = c.join("800", "SIP/102-2", "102", UserFlags::default());
        let _d = c.join("800", "SIP/103-3", "103", UserFlags::default());
        let change = model::ConfChange {
            talk_volume: Some(-2),
            listen_volume: Some(3),
            ..Default::default()
        };
        assert_eq!(c.change("800", "SIP/102-2", &change), Ok(()));
        let m = |ch: &str| {
            c.list()[0]
                .members
                .iter()
                .find(|m| m.channel == ch)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            (m("SIP/102-2").talk_volume, m("SIP/102-2").listen_volume),
            (-2, 3)
        );
        let bad = model::ConfChange {
            talk_volume: Some(5),
            muted: Some(true),
            ..Default::default()
        };
        assert_eq!(
            c.change("800", "SIP/102-2", &bad),
            Err(ConfError::Volume("talk_volume", 5))
        );
        assert!(!m("SIP/102-2").muted, "a refused change changes nothing");
        c.mute_others("800", true);
        assert!(!m("SIP/101-1").muted && m("SIP/102-2").muted && m("SIP/103-3").muted);
        c.mute_others("800", false);
        assert!(!m("SIP/102-2").muted);
        assert_eq!(c.kick_last("800").as_deref(), Some("SIP/103-3"));
    }
}
