-- spygroup schema, version 8: per-extension transport security.
-- require_tls: the extension may register and call only over SIP/TLS.
-- require_srtp: its calls must carry SRTP (SDES), and calls to it are offered
-- RTP/SAVP only. Flags are BIGINT 0/1 like every other flag (SQLite has no
-- BOOLEAN type); no existing extension gets either.
ALTER TABLE extensions ADD COLUMN require_tls BIGINT NOT NULL DEFAULT 0
    CHECK (require_tls IN (0, 1));
ALTER TABLE extensions ADD COLUMN require_srtp BIGINT NOT NULL DEFAULT 0
    CHECK (require_srtp IN (0, 1));
