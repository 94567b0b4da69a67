//! `/api/v1/recordings`: listed and downloaded with a read token, deleted (files and
//! rows) only with an admin token; a download serves only the stored file, inside
//! the recordings folder.

mod common;

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use common::{each_backend, get_raw, Server};
use store::{MonitorStart, NewTrack, RecordingEnd, RecordingKind, RecordingStart, Track, TrackEnd};

const CALLER: &str = "SIP/101-00000001";
const AGENT: &str = "SIP/110-00000002";
const ID: &str = "0123456789abcdef0123456789abcdef";

fn at(ms: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A fake WAV file: a header-sized prefix, then `fill` repeated.
fn wav(fill: u8) -> Vec<u8> {
    let mut v = b"RIFF....WAVEfmt ".to_vec();
    v.resize(44, 0);
    v.extend(std::iter::repeat_n(fill, 320 * 50));
    v
}

/// A finished MixMonitor recording of the caller, 10 s to 20 s, with three files
/// written under the server's folder, and a supervisor who listened to the agent
/// and then whispered meanwhile.
async fn recorded_call(s: &Server) {
    let dir = &s.recordings;
    std::fs::create_dir_all(dir.join("calls")).unwrap();
    let files = [
        (Track::Mixed, "calls/1.wav", 1u8),
        (Track::Read, "calls/1-said.wav", 2),
        (Track::Write, "calls/1-heard.wav", 3),
    ];
    for (_, path, fill) in files {
        std::fs::write(dir.join(path), wav(fill)).unwrap();
    }
    let st = &s.store;
    st.recording_started(&RecordingStart {
        id: ID.into(),
        kind: RecordingKind::MixMonitor,
        call: Some("10000-1".into()),
        channel: CALLER.into(),
        peer_channel: None,
        caller: Some("101".into()),
        callee: Some("110".into()),
        monitor_session: None,
        supervisor: None,
        started_at: at(10_000),
        tracks: files
            .iter()
            .map(|(track, path, _)| NewTrack {
                track: *track,
                path: (*path).into(),
            })
            .collect(),
    })
    .await
    .unwrap();
    st.recording_ended(&RecordingEnd {
        id: ID.into(),
        at: at(20_000),
        duration_ms: 1_000,
        peer_channel: Some(AGENT.into()),
        tracks: files
            .iter()
            .map(|(track, _, _)| TrackEnd {
                track: *track,
                frames: 50,
                bytes: 44 + 320 * 50,
                dropped_frames: 0,
            })
            .collect(),
    })
    .await
    .unwrap();
    st.monitor_started(&MonitorStart {
        id: "m1".into(),
        supervisor: "201".into(),
        supervisor_channel: "SIP/201-00000003".into(),
        target_endpoint: "110".into(),
        target_channel: AGENT.into(),
        peer_channel: Some(CALLER.into()),
        mode: "listen".into(),
        started_at: at(12_000),
    })
    .await
    .unwrap();
    st.monitor_mode_changed("m1", "whisper", at(15_000))
        .await
        .unwrap();
    st.monitor_ended("m1", "supervisor hung up", at(18_000))
        .await
        .unwrap();
}

#[tokio::test]
async fn listed_and_described_with_a_read_token() {
    each_backend(|s| async move {
        recorded_call(&s).await;
        let list = s.get("/api/v1/recordings").await;
        let list = list.expect(200).as_array().unwrap().clone();
        assert_eq!(list.len(), 1, "{list:?}");
        let r = &list[0];
        assert_eq!(r["id"], ID);
        assert_eq!(r["kind"], "mixmonitor");
        assert_eq!(r["call"], "10000-1");
        assert_eq!(r["channel"], CALLER);
        assert_eq!(r["peer_channel"], AGENT);
        assert_eq!((&r["caller"], &r["callee"]), (&"101".into(), &"110".into()));
        assert_eq!(
            (&r["started_at"], &r["ended_at"]),
            (&10_000.into(), &20_000.into())
        );
        assert_eq!(r["duration_ms"], 1_000);
        let tracks: Vec<_> = r["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["track"].as_str().unwrap())
            .collect();
        assert_eq!(tracks, ["mixed", "read", "write"]);
        assert_eq!(r["tracks"][1]["path"], "calls/1-said.wav");
        assert_eq!(r["tracks"][1]["frames"], 50);
        assert_eq!(
            r["tracks"][1]["url"],
            format!("/api/v1/recordings/{ID}/tracks/read")
        );
        assert!(r.get("sessions").is_none(), "only the detail has them");

        // Filters: the channel or its peer, since inclusive, until exclusive.
        for (query, n) in [
            (format!("channel={}", CALLER.replace('/', "%2F")), 1),
            (format!("channel={}", AGENT.replace('/', "%2F")), 1),
            ("channel=SIP%2F999-1".to_string(), 0),
            ("since=10000".to_string(), 1),
            ("since=10001".to_string(), 0),
            ("until=10000".to_string(), 0),
            ("since=0&until=10001&limit=1".to_string(), 1),
        ] {
            let got = s.get(&format!("/api/v1/recordings?{query}")).await;
            assert_eq!(got.expect(200).as_array().unwrap().len(), n, "{query}");
        }
        s.get("/api/v1/recordings?since=5&until=4")
            .await
            .expect_field(400, "until");
        s.get("/api/v1/recordings?limit=0")
            .await
            .expect_field(400, "limit");
        s.get("/api/v1/recordings?since=yesterday")
            .await
            .expect_field(400, "since");

        // The detail: the sessions on the recorded channel's peer, with their modes.
        let one = s.get(&format!("/api/v1/recordings/{ID}")).await;
        let one = one.expect(200);
        assert_eq!(one["id"], ID);
        assert_eq!(one["tracks"].as_array().unwrap().len(), 3);
        let sessions = one["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{one}");
        assert_eq!(sessions[0]["id"], "m1");
        assert_eq!(sessions[0]["supervisor"], "201");
        let events: Vec<_> = sessions[0]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap(),
                    e["detail"].as_str().unwrap(),
                    e["at"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            events,
            [
                ("start", "listen", 12_000),
                ("mode", "whisper", 15_000),
                ("end", "supervisor hung up", 18_000)
            ]
        );

        let r = s.get("/api/v1/recordings/nope").await;
        r.expect(404);
        assert!(r.body["error"].as_str().unwrap().contains("does not exist"));
        s.call("GET", "/api/v1/recordings", None, None)
            .await
            .expect(401);
    })
    .await;
}

#[tokio::test]
async fn tracks_download_as_wav() {
    let s = Server::start().await;
    recorded_call(&s).await;
    for (track, fill) in [("mixed", 1u8), ("read", 2), ("write", 3)] {
        let r = get_raw(
            s.addr,
            &format!("/api/v1/recordings/{ID}/tracks/{track}"),
            &s.read,
        )
        .await;
        assert_eq!(
            r.status,
            200,
            "{track}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.head.contains("content-type: audio/wav"), "{}", r.head);
        assert!(
            r.head
                .contains(&format!("content-length: {}", 44 + 320 * 50)),
            "{}",
            r.head
        );
        assert!(
            r.head.contains(&format!("filename=\"{ID}-{track}.wav\"")),
            "{}",
            r.head
        );
        assert_eq!(r.body, wav(fill), "{track}: the file as it is on disk");
    }
    // A track the recording does not have, or no track name at all.
    let r = s
        .get(&format!("/api/v1/recordings/{ID}/tracks/supervisors"))
        .await;
    r.expect(404);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("it has mixed, read, write"),
        "{}",
        r.body
    );
    s.get("/api/v1/recordings/nope/tracks/mixed")
        .await
        .expect(404);

    // The file is gone (removed by hand): 404, not 500.
    std::fs::remove_file(s.recordings.join("calls/1-heard.wav")).unwrap();
    let r = s
        .get(&format!("/api/v1/recordings/{ID}/tracks/write"))
        .await;
    r.expect(404);
    assert!(
        r.body["error"].as_str().unwrap().contains("is gone"),
        "{}",
        r.body
    );
    s.stop().await;
}

/// Plants a recording row the store's own doors would refuse, as another program
/// writing the database could.
async fn planted(s: &Server, id: &str, path: &str) {
    store::testing::raw_sql(
        &s.store,
        &format!(
            "INSERT INTO recordings (id, kind, channel, started_at) \
             VALUES ('{id}', 'mixmonitor', 'SIP/1-1', 1); \
             INSERT INTO recording_tracks (recording_id, track, path) \
             VALUES ('{id}', 'mixed', '{path}')"
        ),
    )
    .await;
}

#[tokio::test]
async fn a_download_never_leaves_the_recordings_folder() {
    let s = Server::start().await;
    let outside = s.recordings.parent().unwrap().join("secret.wav");
    std::fs::write(&outside, b"SECRET").unwrap();
    let absolute = outside.display().to_string();

    planted(&s, "up", "../secret.wav").await;
    planted(&s, "abs", &absolute).await;
    // A symbolic link inside the folder to a file outside it.
    std::os::unix::fs::symlink(&outside, s.recordings.join("link.wav")).unwrap();
    planted(&s, "link", "link.wav").await;
    for id in ["up", "abs", "link"] {
        let r = get_raw(
            s.addr,
            &format!("/api/v1/recordings/{id}/tracks/mixed"),
            &s.read,
        )
        .await;
        assert_eq!(r.status, 404, "{id}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains("SECRET"), "{id}: {body}");
        assert!(
            body.contains("not under the recordings folder"),
            "{id}: {body}"
        );
    }
    // What the client names is an id and a track, never a path.
    for path in [
        "/api/v1/recordings/..%2F..%2Fsecret.wav/tracks/mixed",
        "/api/v1/recordings/up/tracks/..%2F..%2Fsecret.wav",
        "/api/v1/recordings/up/tracks/%2E%2E",
    ] {
        let r = get_raw(s.addr, path, &s.read).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("SECRET"),
            "{path}"
        );
    }
    // Deleting such a row removes the row, never the file it names.
    let r = s.admin("DELETE", "/api/v1/recordings/up", None).await;
    r.expect(204);
    let r = s.admin("DELETE", "/api/v1/recordings/link", None).await;
    r.expect(204);
    assert!(outside.exists(), "the file outside is untouched");
    assert!(
        !s.recordings.join("link.wav").exists(),
        "the link itself is removed"
    );
    s.stop().await;
}

#[tokio::test]
async fn only_an_admin_token_deletes_and_the_files_go_too() {
    each_backend(|s| async move {
        recorded_call(&s).await;
        let path = format!("/api/v1/recordings/{ID}");
        let file = s.recordings.join("calls/1.wav");
        for token in [s.read.clone(), s.sup201.clone()] {
            let r = s.call("DELETE", &path, Some(&token), None).await;
            r.expect(403);
        }
        s.call("DELETE", &path, None, None).await.expect(401);
        assert!(file.exists(), "a refused delete changes nothing");
        s.get(&path).await.expect(200);

        s.admin("DELETE", &path, None).await.expect(204);
        for f in ["calls/1.wav", "calls/1-said.wav", "calls/1-heard.wav"] {
            assert!(!Path::new(&s.recordings.join(f)).exists(), "{f}");
        }
        s.get(&path).await.expect(404);
        s.admin("DELETE", &path, None).await.expect(404);
        assert!(s
            .get("/api/v1/recordings")
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .is_empty());
        // The audit trail stays: deleting a recording is not deleting who listened.
        let audit = s.get("/api/v1/audit").await;
        assert_eq!(audit.expect(200).as_array().unwrap().len(), 1);
    })
    .await;
}
