//! Recordings' metadata: written as the PBX does (start, then end), listed with
//! filters, read back with the monitoring sessions that overlapped them, deleted
//! with their files. On SQLite and, when set up, PostgreSQL.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use store::{
    MonitorStart, NewTrack, RecordingEnd, RecordingFilter, RecordingKind, RecordingStart,
    StoreError, Track, TrackEnd, WriteBehind,
};

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn mix(id: &str, channel: &str, started: u64, tracks: &[(Track, &str)]) -> RecordingStart {
    RecordingStart {
        id: id.into(),
        kind: RecordingKind::MixMonitor,
        call: Some("1000-1".into()),
        channel: channel.into(),
        peer_channel: None,
        caller: Some("101".into()),
        callee: Some("110".into()),
        monitor_session: None,
        supervisor: None,
        started_at: at(started),
        tracks: tracks
            .iter()
            .map(|(track, path)| NewTrack {
                track: *track,
                path: (*path).into(),
            })
            .collect(),
    }
}

fn end(id: &str, ended: u64, peer: Option<&str>, tracks: &[(Track, u64)]) -> RecordingEnd {
    RecordingEnd {
        id: id.into(),
        at: at(ended),
        duration_ms: tracks.iter().map(|t| t.1).max().unwrap_or(0) * 20,
        peer_channel: peer.map(str::to_string),
        tracks: tracks
            .iter()
            .map(|(track, frames)| TrackEnd {
                track: *track,
                frames: *frames,
                bytes: 44 + frames * 320,
                dropped_frames: 0,
            })
            .collect(),
    }
}

fn session(id: &str, target: &str, peer: Option<&str>, started: u64) -> MonitorStart {
    MonitorStart {
        id: id.into(),
        supervisor: "201".into(),
        supervisor_channel: "SIP/201-00000009".into(),
        target_endpoint: "110".into(),
        target_channel: target.into(),
        peer_channel: peer.map(str::to_string),
        mode: "listen".into(),
        started_at: at(started),
    }
}

const CALLER: &str = "SIP/101-00000001";
const AGENT: &str = "SIP/110-00000002";

#[tokio::test]
async fn start_end_round_trip_with_tracks_in_order() {
    common::each_backend(|s| async move {
        let start = mix(
            "r1",
            CALLER,
            10_000,
            &[
                (Track::Write, "calls/1-heard.wav"),
                (Track::Mixed, "calls/1.wav"),
                (Track::Read, "calls/1-said.wav"),
            ],
        );
        s.recording_started(&start).await.unwrap();
        let r = s.get_recording("r1").await.unwrap().unwrap();
        assert_eq!(r.kind, "mixmonitor");
        assert_eq!(r.call.as_deref(), Some("1000-1"));
        assert_eq!(r.channel, CALLER);
        assert_eq!(r.peer_channel, None);
        assert_eq!(
            (r.caller.as_deref(), r.callee.as_deref()),
            (Some("101"), Some("110"))
        );
        assert_eq!(r.started_at, at(10_000));
        assert_eq!(r.ended_at, None, "still recording");
        assert_eq!(r.duration_ms, None);
        let names: Vec<_> = r.tracks.iter().map(|t| t.track.as_str()).collect();
        assert_eq!(names, ["mixed", "read", "write"], "listed in a fixed order");
        assert!(r
            .tracks
            .iter()
            .all(|t| t.frames.is_none() && t.bytes.is_none()));
        assert_eq!(r.track("read").unwrap().path, "calls/1-said.wav");

        let done = end(
            "r1",
            70_000,
            Some(AGENT),
            &[
                (Track::Mixed, 3000),
                (Track::Read, 2999),
                (Track::Write, 3000),
            ],
        );
        s.recording_ended(&done).await.unwrap();
        // Only the first end counts.
        s.recording_ended(&end("r1", 99_000, Some("SIP/x-1"), &[(Track::Mixed, 1)]))
            .await
            .unwrap();
        let r = s.get_recording("r1").await.unwrap().unwrap();
        assert_eq!(r.ended_at, Some(at(70_000)));
        assert_eq!(r.duration_ms, Some(60_000));
        assert_eq!(r.peer_channel.as_deref(), Some(AGENT), "learnt at the end");
        let read = r.track("read").unwrap();
        assert_eq!(
            (read.frames, read.bytes, read.dropped_frames),
            (Some(2999), Some(44 + 2999 * 320), Some(0))
        );

        // A peer known at the start is kept.
        let mut known = mix("r2", AGENT, 20_000, &[(Track::Mixed, "b.wav")]);
        known.peer_channel = Some(CALLER.into());
        s.recording_started(&known).await.unwrap();
        s.recording_ended(&end(
            "r2",
            30_000,
            Some("SIP/other-9"),
            &[(Track::Mixed, 5)],
        ))
        .await
        .unwrap();
        let r = s.get_recording("r2").await.unwrap().unwrap();
        assert_eq!(r.peer_channel.as_deref(), Some(CALLER));
        assert!(s.get_recording("nope").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_and_leaves_nothing() {
    common::each_backend(|s| async move {
        let ok = mix("r1", CALLER, 1, &[(Track::Mixed, "a.wav")]);
        s.recording_started(&ok).await.unwrap();
        let err = s.recording_started(&ok).await.unwrap_err();
        assert!(matches!(err, StoreError::Exists { .. }), "{err}");

        let bad = |f: fn(&mut RecordingStart)| {
            let mut r = mix("bad", CALLER, 1, &[(Track::Mixed, "b.wav")]);
            f(&mut r);
            r
        };
        for r in [
            bad(|r| r.id.clear()),
            bad(|r| r.channel.clear()),
            bad(|r| r.caller = Some("101\r\nforged".into())),
            bad(|r| r.tracks.clear()),
            bad(|r| r.tracks[0].path = "../../etc/passwd".into()),
            bad(|r| r.tracks[0].path = "/etc/passwd".into()),
            bad(|r| {
                r.tracks.push(NewTrack {
                    track: Track::Mixed,
                    path: "c.wav".into(),
                })
            }),
        ] {
            let err = s.recording_started(&r).await.unwrap_err();
            assert!(err.is_invalid_input(), "{r:?}: {err}");
        }
        let all = s
            .list_recordings(&RecordingFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 1, "{all:?}");

        let err = s
            .recording_ended(&end("nope", 5, None, &[]))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn list_filters_newest_first() {
    common::each_backend(|s| async move {
        for (id, channel, ms) in [
            ("a", CALLER, 1_000),
            ("b", AGENT, 2_000),
            ("c", "SIP/120-00000005", 3_000),
            ("d", CALLER, 4_000),
        ] {
            let mut r = mix(id, channel, ms, &[(Track::Mixed, "x.wav")]);
            if id == "b" {
                r.peer_channel = Some(CALLER.into());
            }
            s.recording_started(&r).await.unwrap();
        }
        let ids = |list: Vec<store::Recording>| list.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let all = RecordingFilter {
            limit: 100,
            ..Default::default()
        };
        assert_eq!(
            ids(s.list_recordings(&all).await.unwrap()),
            ["d", "c", "b", "a"]
        );
        let f = RecordingFilter {
            channel: Some(CALLER.into()),
            ..all.clone()
        };
        // The channel or its peer.
        assert_eq!(ids(s.list_recordings(&f).await.unwrap()), ["d", "b", "a"]);
        let f = RecordingFilter {
            since: Some(at(2_000)),
            until: Some(at(4_000)),
            ..all.clone()
        };
        assert_eq!(
            ids(s.list_recordings(&f).await.unwrap()),
            ["c", "b"],
            "since inclusive, until exclusive"
        );
        let f = RecordingFilter {
            limit: 2,
            ..all.clone()
        };
        let two = s.list_recordings(&f).await.unwrap();
        assert_eq!(two.len(), 2);
        assert!(two.iter().all(|r| r.tracks.len() == 1), "{two:?}");
        let f = RecordingFilter {
            channel: Some("SIP/999-1".into()),
            ..all
        };
        assert!(s.list_recordings(&f).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn detail_lists_the_sessions_that_overlapped_it() {
    common::each_backend(|s| async move {
        // MixMonitor on the caller's channel from 10 s to 70 s; its peer is the agent.
        s.recording_started(&mix("r1", CALLER, 10_000, &[(Track::Mixed, "m.wav")]))
            .await
            .unwrap();
        s.recording_ended(&end("r1", 70_000, Some(AGENT), &[(Track::Mixed, 3000)]))
            .await
            .unwrap();
        // On the agent, during: listen, then whisper, then barge.
        s.monitor_started(&session("during", AGENT, Some(CALLER), 20_000))
            .await
            .unwrap();
        s.monitor_mode_changed("during", "whisper", at(30_000))
            .await
            .unwrap();
        s.monitor_mode_changed("during", "barge", at(40_000))
            .await
            .unwrap();
        s.monitor_ended("during", "supervisor hung up", at(50_000))
            .await
            .unwrap();
        // Started before the recording, still running.
        s.monitor_started(&session("open", CALLER, None, 5_000))
            .await
            .unwrap();
        // Outside the span, another channel, or refused: not listed.
        s.monitor_started(&session("before", AGENT, None, 1_000))
            .await
            .unwrap();
        s.monitor_ended("before", "x", at(9_999)).await.unwrap();
        s.monitor_started(&session("after", AGENT, None, 70_001))
            .await
            .unwrap();
        s.monitor_started(&session("other", "SIP/120-00000005", None, 20_000))
            .await
            .unwrap();
        s.monitor_denied(&session("denied", AGENT, None, 25_000), "not allowed")
            .await
            .unwrap();

        let d = s.recording_detail("r1").await.unwrap().unwrap();
        assert_eq!(d.recording.id, "r1");
        let ids: Vec<_> = d.sessions.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["open", "during"], "oldest first");
        let during = &d.sessions[1];
        let modes: Vec<_> = during
            .events
            .iter()
            .map(|e| (e.kind.as_str(), e.detail.as_str(), e.at))
            .collect();
        assert_eq!(
            modes,
            [
                ("start", "listen", at(20_000)),
                ("mode", "whisper", at(30_000)),
                ("mode", "barge", at(40_000)),
                ("end", "supervisor hung up", at(50_000)),
            ]
        );
        assert!(s.recording_detail("nope").await.unwrap().is_none());

        // A ChanSpy recording lists its own session, and a recording not ended yet
        // runs until now.
        let mut spy = mix("r2", AGENT, 75_000, &[(Track::Heard, "spy-75000.wav")]);
        spy.kind = RecordingKind::ChanSpy;
        spy.monitor_session = Some("after".into());
        spy.supervisor = Some("201".into());
        s.recording_started(&spy).await.unwrap();
        let d = s.recording_detail("r2").await.unwrap().unwrap();
        assert_eq!(d.recording.kind, "chanspy");
        assert_eq!(d.recording.monitor_session.as_deref(), Some("after"));
        assert_eq!(d.recording.supervisor.as_deref(), Some("201"));
        let ids: Vec<_> = d.sessions.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["after"]);
    })
    .await;
}

#[tokio::test]
async fn delete_removes_files_and_rows_but_not_shared_files() {
    common::each_backend(|s| async move {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path();
        std::fs::create_dir_all(folder.join("calls")).unwrap();
        for f in ["calls/1.wav", "calls/1-said.wav", "same.wav", "outside.wav"] {
            std::fs::write(folder.join(f), b"RIFF").unwrap();
        }
        s.recording_started(&mix(
            "r1",
            CALLER,
            1_000,
            &[
                (Track::Mixed, "calls/1.wav"),
                (Track::Read, "calls/1-said.wav"),
                (Track::Write, "calls/1-gone.wav"),
                (Track::Supervisors, "same.wav"),
            ],
        ))
        .await
        .unwrap();
        // A dialplan reusing a file name: r2 wrote over r1's `same.wav`.
        s.recording_started(&mix("r2", CALLER, 2_000, &[(Track::Mixed, "same.wav")]))
            .await
            .unwrap();

        let done = s
            .delete_recording_and_files(folder, "r1")
            .await
            .unwrap()
            .unwrap();
        let mut removed = done.removed.clone();
        removed.sort();
        assert_eq!(
            removed,
            [folder.join("calls/1-said.wav"), folder.join("calls/1.wav")]
        );
        assert_eq!(done.missing, [folder.join("calls/1-gone.wav")]);
        assert_eq!(done.shared, [folder.join("same.wav")]);
        assert!(!folder.join("calls/1.wav").exists());
        assert!(folder.join("same.wav").exists(), "r2 still needs it");
        assert!(s.get_recording("r1").await.unwrap().is_none());
        assert!(s
            .delete_recording_and_files(folder, "r1")
            .await
            .unwrap()
            .is_none());

        // Now r2 alone lists it: deleted with r2.
        let done = s
            .delete_recording_and_files(folder, "r2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.removed, [folder.join("same.wav")]);
        assert!(folder.join("outside.wav").exists());
        assert!(s
            .list_recordings(&RecordingFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn writes_through_the_queue_in_order() {
    common::each_backend(|s| async move {
        let q = WriteBehind::start(s.clone(), 100);
        let start = mix("r1", CALLER, 1_000, &[(Track::Mixed, "a.wav")]);
        assert!(q.submit(store::Write::RecordingStarted(start.clone())));
        assert!(q.submit(store::Write::RecordingEnded(end(
            "r1",
            2_000,
            None,
            &[(Track::Mixed, 50)]
        ))));
        // A retried start, and the end of a recording deleted meanwhile: no failure.
        assert!(q.submit(store::Write::RecordingStarted(start)));
        assert!(q.submit(store::Write::RecordingEnded(end("gone", 3_000, None, &[]))));
        assert!(q.flush(Duration::from_secs(10)).await);
        let h = q.health();
        assert_eq!((h.written, h.failed, h.dropped), (4, 0, 0), "{h:?}");
        let r = s.get_recording("r1").await.unwrap().unwrap();
        assert_eq!(r.duration_ms, Some(1_000));
        assert_eq!(r.track("mixed").unwrap().frames, Some(50));
    })
    .await;
}
