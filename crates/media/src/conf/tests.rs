//! The room's mixing in rounds, with constant-level "voices" so sums are exact.

use super::*;

/// A frame whose every sample is `v`.
fn voice(v: i16) -> Frame {
    let mut f = Frame::silence();
    f.samples_mut().fill(v);
    f
}

fn level(f: &Frame) -> i16 {
    f.samples()[0]
}

/// One 20 ms tick of every member, in the order given: each says its frame, then
/// each bridge reads what it hears.
fn tick(members: &mut [(&mut Joined, i16)]) -> Vec<i16> {
    for (j, v) in members.iter_mut() {
        j.says.send(&voice(*v)).unwrap();
    }
    members
        .iter_mut()
        .map(|(j, _)| {
            let mut out = Frame::silence();
            assert!(j.hears.next_frame(&mut out));
            level(&out)
        })
        .collect()
}

#[test]
fn each_member_hears_the_others_and_not_itself() {
    let room = Room::new();
    let (mut a, mut b, mut c) = (
        room.join(false, false),
        room.join(false, false),
        room.join(false, false),
    );
    // The first round is read before anyone said anything: silence.
    let mut out = Frame::silence();
    a.hears.next_frame(&mut out);
    b.hears.next_frame(&mut out);
    c.hears.next_frame(&mut out);
    for _ in 0..3 {
        let heard = tick(&mut [(&mut a, 100), (&mut b, 20), (&mut c, 3)]);
        assert_eq!(heard, [23, 103, 120]);
    }
    assert_eq!(room.len(), 3);
}

#[test]
fn muted_members_are_not_heard_and_deaf_ones_hear_nothing() {
    let room = Room::new();
    let (mut a, mut b, mut c) = (
        room.join(false, false),
        room.join(true, false),
        room.join(false, true),
    );
    assert_eq!(
        tick(&mut [(&mut a, 100), (&mut b, 20), (&mut c, 3)]),
        [3, 103, 0]
    );
    assert!(room.update(b.id, |s| s.muted = false));
    assert!(room.update(c.id, |s| s.deaf = false));
    assert_eq!(
        tick(&mut [(&mut a, 100), (&mut b, 20), (&mut c, 3)]),
        [23, 103, 120]
    );
    assert_eq!(room.state(b.id).map(|s| s.muted), Some(false));
}

#[test]
fn talk_and_listen_volumes_are_per_member() {
    let room = Room::new();
    let (mut a, mut b) = (room.join(false, false), room.join(false, false));
    let loud = VolumeStep::new(4).unwrap();
    room.update(a.id, |s| s.talk = loud);
    room.update(b.id, |s| s.listen = loud);
    let heard = tick(&mut [(&mut a, 100), (&mut b, 100)]);
    let factor = loud.factor();
    let once = (100.0 * factor).round() as i16;
    // B hears A made louder twice (A talks up, B listens up); A hears B as is.
    assert_eq!(heard[0], 100);
    assert!(
        (i32::from(heard[1]) - (f64::from(once) * factor).round() as i32).abs() <= 1,
        "{heard:?}"
    );
}

#[test]
fn a_member_that_leaves_is_out_of_every_mix() {
    let room = Room::new();
    let (mut a, mut b) = (room.join(false, false), room.join(false, false));
    let c = room.join(false, false);
    c.says.send(&voice(7)).unwrap();
    drop(c);
    assert_eq!(room.len(), 2);
    assert_eq!(tick(&mut [(&mut a, 1), (&mut b, 2)]), [2, 1]);
    drop(a);
    assert_eq!(tick(&mut [(&mut b, 2)]), [0], "alone: silence, not itself");
    drop(b);
    assert!(room.is_empty());
}

#[test]
fn a_quiet_pipe_is_silence_and_a_full_one_does_not_drift_late() {
    let room = Room::new();
    let (mut a, mut b) = (room.join(false, false), room.join(false, false));
    // A says nothing this round: B hears silence, not a stale frame.
    b.says.send(&voice(5)).unwrap();
    let mut out = Frame::silence();
    assert!(a.hears.next_frame(&mut out));
    assert_eq!(level(&out), 5);
    assert!(b.hears.next_frame(&mut out));
    assert_eq!(level(&out), 0);
    // A burst of five frames from A: B hears the newest ones, not five rounds late.
    for v in 1..=5 {
        a.says.send(&voice(v)).unwrap();
    }
    assert!(b.hears.next_frame(&mut out));
    assert_eq!(level(&out), 4, "two kept at most: this round reads 4");
    assert!(a.hears.next_frame(&mut out));
    assert!(b.hears.next_frame(&mut out));
    assert_eq!(level(&out), 5, "and the next one 5");
    assert!(a.hears.next_frame(&mut out));
    assert!(b.hears.next_frame(&mut out));
    assert_eq!(level(&out), 0, "then A's pipe is empty");
}

#[test]
fn loud_sums_saturate_instead_of_wrapping() {
    let room = Room::new();
    let (mut a, mut b, mut c) = (
        room.join(false, false),
        room.join(false, false),
        room.join(false, false),
    );
    let heard = tick(&mut [(&mut a, 30_000), (&mut b, 30_000), (&mut c, 30_000)]);
    assert_eq!(heard, [i16::MAX, i16::MAX, i16::MAX]);
    let heard = tick(&mut [(&mut a, -30_000), (&mut b, -30_000), (&mut c, 10)]);
    assert_eq!(heard, [-29_990, -29_990, i16::MIN]);
}

/// Plays a constant level for `n` frames.
struct Beep(i16, usize);

impl FrameSource for Beep {
    fn next_frame(&mut self, out: &mut Frame) -> bool {
        if self.1 == 0 {
            return false;
        }
        self.1 -= 1;
        out.samples_mut().fill(self.0);
        true
    }
}

#[test]
fn a_room_sound_is_heard_by_every_member_who_hears_the_room_until_it_ends() {
    let room = Room::new();
    let (mut a, mut b, mut c) = (
        room.join(false, false),
        room.join(false, false),
        room.join(false, true),
    );
    room.play(Box::new(Beep(1000, 2)));
    assert_eq!(
        tick(&mut [(&mut a, 1), (&mut b, 2), (&mut c, 4)]),
        [1006, 1005, 0]
    );
    assert_eq!(
        tick(&mut [(&mut a, 1), (&mut b, 2), (&mut c, 4)]),
        [1006, 1005, 0]
    );
    assert_eq!(
        tick(&mut [(&mut a, 1), (&mut b, 2), (&mut c, 4)]),
        [6, 5, 0],
        "the beep ended"
    );
}
