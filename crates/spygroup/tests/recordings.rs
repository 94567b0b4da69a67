//! `spygroup recordings list|show|delete`, run as a real process against a temp
//! database holding a recording whose files are in the temp dir's `recordings/`.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::{assert_code, stderr, stdout, Env};
use store::{NewTrack, RecordingEnd, RecordingKind, RecordingStart, Track, TrackEnd};

const ID: &str = "00112233445566778899aabbccddeeff";

/// A finished recording started 2025-01-01 00:00:00 UTC, and its two files under
/// `<dir>/<folder>/calls/`.
fn recorded(env: &Env, folder: &str) {
    let dir = env.path().join(folder).join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("1.wav"), b"RIFF-mixed").unwrap();
    std::fs::write(dir.join("1-said.wav"), b"RIFF-read").unwrap();
    let start = UNIX_EPOCH + Duration::from_millis(1_735_689_600_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = store::Store::open(&env.db).await.unwrap();
        s.recording_started(&RecordingStart {
            id: ID.into(),
            kind: RecordingKind::MixMonitor,
            call: Some("1735689600000-1".into()),
            channel: "SIP/101-00000001".into(),
            peer_channel: Some("SIP/110-00000002".into()),
            caller: Some("101".into()),
            callee: Some("110".into()),
            monitor_session: None,
            supervisor: None,
            started_at: start,
            tracks: vec![
                NewTrack {
                    track: Track::Mixed,
                    path: "calls/1.wav".into(),
                },
                NewTrack {
                    track: Track::Read,
                    path: "calls/1-said.wav".into(),
                },
            ],
        })
        .await
        .unwrap();
        s.recording_ended(&RecordingEnd {
            id: ID.into(),
            at: start + Duration::from_secs(65),
            duration_ms: 65_000,
            peer_channel: None,
            tracks: vec![TrackEnd {
                track: Track::Mixed,
                frames: 3250,
                bytes: 10,
                dropped_frames: 0,
            }],
        })
        .await
        .unwrap();
        s.close().await;
    });
}

#[test]
fn list_show_and_delete_with_the_files() {
    let env = Env::with_database();
    recorded(&env, "recordings");

    let o = env.run(&["recordings", "list"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("ID  "), "{out}");
    let cells: Vec<_> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells,
        [
            ID,
            "2025-01-01",
            "00:00:00",
            "mixmonitor",
            "SIP/101-00000001",
            "SIP/110-00000002",
            "101",
            "110",
            "1:05",
            "mixed,read"
        ]
    );
    for (args, n) in [
        (vec!["--channel", "SIP/110-00000002"], 1),
        (vec!["--channel", "SIP/999-1"], 0),
        (vec!["--since", "2025-01-01"], 1),
        (vec!["--since", "2025-01-01T00:00:01"], 0),
        (vec!["--until", "1735689600000"], 0),
        (vec!["--until", "2025-01-02", "--limit", "5"], 1),
    ] {
        let o = env.run(&[&["recordings", "list"][..], &args].concat());
        assert_code(&o, 0);
        assert_eq!(
            stdout(&o).lines().count(),
            1 + n,
            "{args:?}: {}",
            stdout(&o)
        );
    }
    assert_code(&env.run(&["recordings", "list", "--since", "yesterday"]), 2);

    let o = env.run(&["recordings", "show", ID]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("parties     101 -> 110"), "{out}");
    assert!(out.contains("recordings/calls/1-said.wav"), "{out}");
    assert!(out.contains("monitoring while it recorded: none"), "{out}");

    let o = env.run(&["recordings", "show", "nope"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));

    // The default folder is ./recordings, as for `serve`.
    let o = env.run(&["recordings", "delete", ID]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("2 files removed"), "{}", stdout(&o));
    assert!(!env.path().join("recordings/calls/1.wav").exists());
    assert!(!env.path().join("recordings/calls/1-said.wav").exists());
    assert_eq!(stdout(&env.run(&["recordings", "list"])).lines().count(), 1);
    assert_code(&env.run(&["recordings", "delete", ID]), 1);
}

#[test]
fn delete_uses_the_configured_folder_and_says_when_files_are_not_there() {
    let env = Env::with_database();
    recorded(&env, "rec-elsewhere");
    // The config file names the folder.
    std::fs::write(
        env.path().join("spygroup.toml"),
        "recordings = \"rec-elsewhere\"\n",
    )
    .unwrap();
    let o = env.run(&["recordings", "show", ID]);
    assert!(
        stdout(&o).contains("rec-elsewhere/calls/1.wav"),
        "{}",
        stdout(&o)
    );

    // A flag naming the wrong folder: the record goes, and the user is told the
    // files were not found there.
    let o = env.run(&["recordings", "delete", ID, "--recordings", "wrong"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("0 files removed"), "{}", stdout(&o));
    assert!(stderr(&o).contains("was not there"), "{}", stderr(&o));
    assert!(env.path().join("rec-elsewhere/calls/1.wav").exists());

    recorded(&env, "rec-elsewhere");
    let o = env.run(&["recordings", "delete", ID]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("2 files removed"), "{}", stdout(&o));
    assert!(!env.path().join("rec-elsewhere/calls/1.wav").exists());
}
