-- spygroup schema, version 5: recordings and their files.
-- MixMonitor and ChanSpy's r() write WAV files under the recordings folder; these
-- tables say which call and parties each belongs to, when it ran, and where its
-- files are, so the API and the CLI can list, serve and delete them. Same portable
-- rules as before: TEXT and BIGINT only, times as epoch milliseconds, no CHECK on
-- values a newer version may extend (kind, track).

CREATE TABLE recordings (
    -- 32 hex digits (128 random bits): the id is the only thing a download names,
    -- so it must not be guessable from another one.
    id              TEXT PRIMARY KEY,
    -- 'mixmonitor' or 'chanspy'.
    kind            TEXT NOT NULL,
    -- The call's public id (GET /api/v1/calls, cdr.id), when known.
    call_ref        TEXT,
    -- The recorded channel: MixMonitor's own, or the channel ChanSpy spied on.
    channel         TEXT NOT NULL,
    -- Its bridged peer, when it had one while recording.
    peer_channel    TEXT,
    -- The parties' numbers as the recorded channel knew them.
    caller          TEXT,
    callee          TEXT,
    -- ChanSpy: the monitoring session (monitor_sessions.id) and its supervisor.
    -- No foreign key: the audit trail and the recordings are written independently,
    -- and deleting a recording must never touch the audit trail.
    monitor_session TEXT,
    supervisor      TEXT,
    started_at      BIGINT NOT NULL,
    -- NULL while recording, or when the server stopped before the files were complete.
    ended_at        BIGINT,
    -- The length of the audio (the longest track), in milliseconds, once ended.
    duration_ms     BIGINT
);

CREATE INDEX recordings_started_at ON recordings (started_at);
CREATE INDEX recordings_channel ON recordings (channel);

-- One WAV file of a recording: `mixed` (both directions), `read` (what the channel's
-- phone said), `write` (what it heard), `supervisors` (what supervisors said),
-- `heard` (ChanSpy: what the supervisor heard).
CREATE TABLE recording_tracks (
    recording_id   TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    track          TEXT NOT NULL,
    -- Relative to the recordings folder, '/'-separated, never '..' nor absolute.
    path           TEXT NOT NULL,
    -- Set when the file is complete: 20 ms frames written, file size, and frames
    -- left out because the disk was too slow.
    frames         BIGINT,
    bytes          BIGINT,
    dropped_frames BIGINT,
    PRIMARY KEY (recording_id, track)
);

CREATE INDEX recording_tracks_path ON recording_tracks (path);

-- A recording's metadata lists the monitoring sessions on its channels while it
-- ran: look them up by channel rather than scanning the whole audit trail.
CREATE INDEX monitor_sessions_target_channel ON monitor_sessions (target_channel);
CREATE INDEX monitor_sessions_peer_channel ON monitor_sessions (peer_channel);
