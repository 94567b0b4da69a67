"""A softphone for tests, on top of pjsua2 (the PJSIP Python binding).

pjsua2 allows one Endpoint per process, so ``UA`` is a process-wide singleton
(a session-scoped pytest fixture). It runs with ``threadCnt=0``: every SIP
callback happens on the test thread while it calls ``UA.poll``/``UA.wait_for``.
Media runs on pjmedia's own threads (null sound device clock + media ioqueue),
so audio keeps flowing while the test thread sleeps inside ``poll``.

Each ``Phone`` is one pjsua2 Account bound to its own SIP transport (UDP or TCP,
port picked by the OS), so two phones look like two devices to the PBX.

Teardown order matters (pjsua2 aborts with exit 134 otherwise): every Call,
player and recorder is dropped and garbage-collected before ``libDestroy``.
"""

from __future__ import annotations

import gc
import os
import random
import time
import weakref
from pathlib import Path

import pjsua2 as pj

CONFIRMED = pj.PJSIP_INV_STATE_CONFIRMED
DISCONNECTED = pj.PJSIP_INV_STATE_DISCONNECTED
EARLY = pj.PJSIP_INV_STATE_EARLY
INCOMING = pj.PJSIP_INV_STATE_INCOMING

STATE_NAMES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}

WANTED_CODECS = {"PCMU/8000": 255, "PCMA/8000": 254}

# pjsua2-python 2.15.1 from PyPI is built with PJSUA_MAX_CALLS 4: whatever
# UaConfig.maxCalls says, a process holds at most 4 calls (both directions counted).
# A fifth makeCall fails with PJ_ETOOMANY; a fifth incoming call is refused.
MAX_CALLS = 4


class UA:
    """The process-wide pjsua2 endpoint."""

    _instance = None

    def __init__(self, log_path, media_port_base=None):
        if UA._instance is not None:
            raise RuntimeError("only one pjsua2 Endpoint per process")
        UA._instance = self
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.phones: list[Phone] = []
        self.all_calls = weakref.WeakSet()
        # Phones' RTP ports: a block of our own, away from the PBX's range
        # (conftest keeps the PBX in 40000-49999; a block wraps after 4000 ports,
        # so it starts below 36000 to end below 40000).
        self.media_port_base = media_port_base or random.randrange(30000, 36000, 2)
        self._media_next = self.media_port_base

        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = 32
        cfg.uaConfig.userAgent = "spygroup-e2e-pjsua2"
        cfg.logConfig.level = 5
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.msgLogging = 1
        cfg.logConfig.filename = str(self.log_path)
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.threadCnt = 1
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()
        for c in ep.codecEnum2():
            prio = next((p for k, p in WANTED_CODECS.items() if c.codecId.startswith(k)), 0)
            ep.codecSetPriority(c.codecId, prio)
        ep.libStart()
        self.ep = ep

    # ---- event pump -------------------------------------------------------
    def poll(self, seconds=0.0):
        """Handle SIP events for ``seconds`` (at least one pass)."""
        deadline = time.monotonic() + seconds
        while True:
            self.ep.libHandleEvents(10)
            if time.monotonic() >= deadline:
                return

    def wait_for(self, predicate, timeout=5.0, what="condition"):
        deadline = time.monotonic() + timeout
        while True:
            self.ep.libHandleEvents(10)
            if predicate():
                return True
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")

    # ---- transports ------------------------------------------------------
    def transport(self, kind="udp"):
        tc = pj.TransportConfig()
        tc.boundAddress = "127.0.0.1"
        tc.port = 0
        ttype = {
            "tcp": pj.PJSIP_TRANSPORT_TCP,
            "tls": pj.PJSIP_TRANSPORT_TLS,
        }.get(kind, pj.PJSIP_TRANSPORT_UDP)
        if kind == "tls":
            # The test's certificate is self-signed: pjsua checks nothing (a desk
            # phone with no CA installed does the same), but the handshake, the
            # version and the cipher are real.
            tc.tlsConfig.verifyServer = False
        tid = self.ep.transportCreate(ttype, tc)
        info = self.ep.transportGetInfo(tid)
        port = int(info.localName.rsplit(":", 1)[1])
        return tid, port

    def next_media_port(self):
        port = self._media_next
        self._media_next += 40
        if self._media_next > self.media_port_base + 4000:
            self._media_next = self.media_port_base
        return port

    def sip_log(self):
        self.flush_log()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_offset(self):
        self.flush_log()
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def flush_log(self):
        """pjsua writes its log file through a stdio buffer (no flush API in
        pjsua2): writing a line larger than the buffer pushes out what precedes it."""
        self.ep.utilLogWrite(1, "e2e", "log flush " + "." * 20000)

    def log_since(self, offset):
        self.flush_log()
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    # ---- teardown --------------------------------------------------------
    def close_all_phones(self):
        for p in list(self.phones):
            p.close()

    def destroy(self):
        self.close_all_phones()
        gc.collect()
        self.poll(0.2)
        # A Call still referenced (say, by a failed test's traceback) would run its
        # C++ destructor after libDestroy and abort the process: disown it.
        for c in list(self.all_calls):
            c.thisown = False
        self.ep.libDestroy()
        del self.ep
        UA._instance = None


class Call(pj.Call):
    """One call leg of a Phone, with its state history and media helpers."""

    def __init__(self, phone, call_id=pj.PJSUA_INVALID_ID, incoming=False):
        super().__init__(phone.acc, call_id)
        phone.ua.all_calls.add(self)
        self.phone = phone
        self.incoming = incoming
        self.state = pj.PJSIP_INV_STATE_NULL
        self.states: list[str] = []
        self.codes: list[int] = []
        self.last_code = 0
        self.last_reason = ""
        self.remote_uri = ""
        self.media_active = False
        self.media_events = 0
        self.player = None
        self.play_path = None
        self.recorder = None
        self.rec_path = None
        self.rec_started = None
        self.stream_remote = None  # "ip:port" the phone sends RTP to
        self.connected_at = None
        self.disconnected_at = None
        self.transfer_codes: list[tuple[int, bool]] = []  # (sipfrag status, final)
        self.transfer_requests: list[str] = []  # Refer-To of REFERs received
        self.redirects: list[str] = []  # targets of 3xx followed

    # ---- callbacks -------------------------------------------------------
    def onCallState(self, prm):
        ci = self.getInfo()
        self.state = ci.state
        self.states.append(STATE_NAMES.get(ci.state, str(ci.state)))
        self.last_code = ci.lastStatusCode
        self.last_reason = ci.lastReason
        self.remote_uri = ci.remoteUri
        if ci.lastStatusCode:
            self.codes.append(ci.lastStatusCode)
        if ci.state == CONFIRMED and self.connected_at is None:
            self.connected_at = time.monotonic()
        if ci.state == DISCONNECTED:
            self.disconnected_at = time.monotonic()
            self.media_active = False

    def onCallMediaState(self, prm):
        self.media_events += 1
        self._connect_media()

    def onCallRedirected(self, prm):
        # Follow a 302 as desk phones do (pjsua2's default stops at it).
        self.redirects.append(prm.targetUri)
        return pj.PJSIP_REDIRECT_ACCEPT

    def onCallTransferRequest(self, prm):
        # A REFER from the PBX (Transfer()): accept it, and make the new call one of
        # ours so it plays this phone's tone and records what it hears.
        self.transfer_requests.append(prm.dstUri)
        call = Call(self.phone)
        self.phone.calls.append(call)
        self.phone._auto_media(call)
        prm.newCall = call

    def onCallTransferStatus(self, prm):
        # The NOTIFYs of our REFER: sipfrag status, and whether it is the last.
        self.transfer_codes.append((prm.statusCode, prm.finalNotify))

    # ---- media -----------------------------------------------------------
    def _audio_index(self):
        if self.getId() == pj.PJSUA_INVALID_ID or self.state == DISCONNECTED:
            return None  # getInfo() on a call without an id aborts the process
        try:
            ci = self.getInfo()
        except pj.Error:
            return None
        for i, m in enumerate(ci.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status in (
                pj.PJSUA_CALL_MEDIA_ACTIVE,
                pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
                pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
            ):
                return i, m.status
        return None

    def _connect_media(self):
        found = self._audio_index()
        if found is None:
            self.media_active = False
            return
        idx, status = found
        self.media_active = status == pj.PJSUA_CALL_MEDIA_ACTIVE
        am = self.getAudioMedia(idx)
        try:
            self.stream_remote = self.getStreamInfo(idx).remoteRtpAddress
        except pj.Error:
            pass
        if self.player is not None:
            self.player.startTransmit(am)
        if self.recorder is not None:
            am.startTransmit(self.recorder)
            if self.rec_started is None:
                self.rec_started = time.monotonic()

    def play(self, wav_path):
        """Loop ``wav_path`` (16-bit WAV) into the call."""
        self.player = pj.AudioMediaPlayer()
        self.player.createPlayer(str(wav_path))  # loops by default
        self.play_path = Path(wav_path)
        self._connect_media()

    def record(self, wav_path):
        """Record what the phone hears into ``wav_path`` (replaces a recorder)."""
        self.stop_recording()
        self.recorder = pj.AudioMediaRecorder()
        self.recorder.createRecorder(str(wav_path))
        self.rec_path = Path(wav_path)
        self.rec_started = None
        self._connect_media()
        return self.rec_path

    def stop_recording(self):
        """Close the recorder (finalising the WAV); return its path once the file
        is complete: pjsua writes through a buffer and only the finished file's
        RIFF header covers the whole file (read earlier, the last second could be
        missing: a prompt played just before a hang-up looked unheard)."""
        path = self.rec_path
        if self.recorder is not None:
            rec = self.recorder
            self.recorder = None
            del rec
            gc.collect()
            deadline = time.monotonic() + 3.0
            while not _wav_finished(path) and time.monotonic() < deadline:
                self.phone.ua.poll(0.02)
        return path

    def stop_playing(self):
        if self.player is not None:
            p = self.player
            self.player = None
            del p
            gc.collect()

    def recorded_seconds(self):
        return 0.0 if self.rec_started is None else time.monotonic() - self.rec_started

    # ---- control ---------------------------------------------------------
    def answer_with(self, code=200):
        prm = pj.CallOpParam(True)
        prm.statusCode = code
        self.answer(prm)

    def reject(self, code=486):
        prm = pj.CallOpParam(True)
        prm.statusCode = code
        self.hangup(prm)

    def end(self):
        """Hang up (or CANCEL before answer); no error if already gone."""
        if self.state == DISCONNECTED:
            return
        if self.getId() == pj.PJSUA_INVALID_ID:
            return  # never made (makeCall failed): hangup() would abort the process
        try:
            self.hangup(pj.CallOpParam(True))
        except pj.Error:
            pass

    def send_digits(self, digits, method="rfc2833", duration_ms=160):
        """Send DTMF: ``method`` "rfc2833" (RFC 4733 events in the RTP stream) or
        "info" (one SIP INFO per digit, application/dtmf-relay)."""
        prm = pj.CallSendDtmfParam()
        prm.digits = str(digits)
        prm.duration = duration_ms
        prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
        self.sendDtmf(prm)

    def hold(self):
        self.setHold(pj.CallOpParam(True))

    def transfer(self, target):
        """Blind transfer: REFER the other party to ``target``."""
        self.xfer(self.phone.uri(target), pj.CallOpParam(True))

    def transfer_to_call(self, other):
        """Attended transfer: REFER the other party to ``other``'s party, with
        Replaces naming ``other``'s dialog (RFC 3891)."""
        self.xferReplaces(other, pj.CallOpParam(True))

    @property
    def transferred_ok(self):
        return any(final and 200 <= code < 300 for code, final in self.transfer_codes)

    def unhold(self):
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        self.reinvite(prm)

    @property
    def confirmed(self):
        return self.state == CONFIRMED

    @property
    def disconnected(self):
        return self.state == DISCONNECTED

    def __repr__(self):
        return f"<Call {self.phone.ext} in={self.incoming} states={self.states} codes={self.codes}>"


class Account(pj.Account):
    def __init__(self, phone):
        super().__init__()
        self.phone = phone

    def onRegState(self, prm):
        self.phone.reg_events.append((prm.code, prm.expiration, prm.reason))

    def onIncomingCall(self, prm):
        self.phone._incoming(prm.callId)


class Phone:
    """A softphone: ``Phone(ua, "101", "s3cret", server="127.0.0.1:5060")``.

    With ``server=None`` the phone has no registrar (peer-to-peer tests).
    ``answer``: 200 auto-answers, another code (486, 603...) auto-rejects,
    None leaves incoming calls ringing (180) for the test to answer.
    ``tone``: a WAV looped into every call as soon as it has media.
    """

    def __init__(
        self,
        ua: UA,
        ext,
        secret="",
        server=None,
        transport="udp",
        answer=200,
        tone=None,
        record_dir=None,
        register_on_add=False,
        srtp=None,
        session_timer=None,
    ):
        self.ua = ua
        self.ext = str(ext)
        self.secret = secret
        self.server = server
        self.transport = transport
        self.answer = answer
        self.tone = tone
        self.record_dir = Path(record_dir) if record_dir else None
        self.calls: list[Call] = []
        self.reg_events: list[tuple] = []
        self.closed = False
        self.tid, self.port = ua.transport(transport)

        host = server or f"127.0.0.1:{self.port}"
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.ext}@{host}"
        if server:
            acfg.regConfig.registrarUri = f"sip:{server}{self._tp_param()}"
        acfg.regConfig.registerOnAdd = register_on_add
        acfg.regConfig.timeoutSec = 300
        acfg.regConfig.retryIntervalSec = 0  # no automatic retry after a failure
        acfg.sipConfig.transportId = self.tid
        if secret:
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", self.ext, 0, secret))
        acfg.natConfig.udpKaIntervalSec = 0
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.sipOutboundUse = 0
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.port = ua.next_media_port()
        acfg.mediaConfig.transportConfig.portRange = 40
        # srtp: None (plain RTP), "optional" (RTP/AVP with a=crypto) or "mandatory"
        # (RTP/SAVP): SDES keys, which pjsua sends only over TLS by default.
        if srtp == "mandatory":
            acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
        elif srtp == "optional":
            acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_OPTIONAL
        else:
            acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_DISABLED
        if srtp:
            # SDES only: no DTLS-SRTP offer next to it.
            acfg.mediaConfig.srtpOpt.keyings = pj.IntVector([pj.PJMEDIA_SRTP_KEYING_SDES])
        self.srtp = srtp
        if session_timer:
            # RFC 4028 always: Session-Expires in every INVITE, refreshed by us.
            acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_ALWAYS
            acfg.callConfig.timerSessExpiresSec = session_timer
            acfg.callConfig.timerMinSESec = 90
        self.acc = Account(self)
        self.acc.create(acfg)
        ua.phones.append(self)

    def _tp_param(self):
        return f";transport={self.transport}" if self.transport in ("tcp", "tls") else ""

    @property
    def contact_host(self):
        return f"127.0.0.1:{self.port}"

    def uri(self, target):
        """A dialable URI: digits go to the server (or are used as-is if a URI)."""
        target = str(target)
        if target.startswith("sip:"):
            return target
        host = self.server or self.contact_host
        return f"sip:{target}@{host}{self._tp_param()}"

    # ---- registration ----------------------------------------------------
    def register(self, timeout=5.0):
        """REGISTER and return the final status code (200, 401, 403...)."""
        n = len(self.reg_events)
        self.acc.setRegistration(True)
        self.ua.wait_for(lambda: len(self.reg_events) > n, timeout, f"REGISTER result for {self.ext}")
        return self.reg_events[-1][0]

    def unregister(self, timeout=5.0):
        n = len(self.reg_events)
        self.acc.setRegistration(False)
        self.ua.wait_for(lambda: len(self.reg_events) > n, timeout, f"unREGISTER result for {self.ext}")
        return self.reg_events[-1][0], self.reg_events[-1][1]

    # ---- calls -----------------------------------------------------------
    def _incoming(self, call_id):
        call = Call(self, call_id, incoming=True)
        self.calls.append(call)
        call.onCallState(None)  # capture INCOMING state and remote URI
        self._auto_media(call)
        if self.answer is None:
            call.answer_with(180)
        elif self.answer == 200:
            call.answer_with(200)
        else:
            call.reject(self.answer)

    def _auto_media(self, call):
        if self.tone:
            call.play(self.tone)
        if self.record_dir:
            n = len(self.calls)
            call.record(self.record_dir / f"{self.ext}-call{n}-{'in' if call.incoming else 'out'}.wav")

    def call(self, target):
        call = Call(self)
        self.calls.append(call)
        self._auto_media(call)
        try:
            call.makeCall(self.uri(target), pj.CallOpParam(True))
        except pj.Error as e:
            self.calls.remove(call)
            call.stop_playing()
            call.stop_recording()
            call.thisown = False  # its destructor on a call that never was can abort
            raise RuntimeError(
                f"{self.ext} could not call {target}: {e.info() if hasattr(e, 'info') else e} "
                f"(this pjsua2 build allows {MAX_CALLS} calls at once per process)"
            ) from None
        return call

    def incoming(self, timeout=5.0):
        """Wait for the next incoming call not yet returned by this method."""
        seen = getattr(self, "_seen_incoming", 0)
        self.ua.wait_for(
            lambda: sum(1 for c in self.calls if c.incoming) > seen,
            timeout,
            f"incoming call on {self.ext}",
        )
        self._seen_incoming = seen + 1
        return [c for c in self.calls if c.incoming][seen]

    # ---- teardown --------------------------------------------------------
    def close(self):
        if self.closed:
            return
        self.closed = True
        for c in self.calls:
            c.end()
        try:
            self.ua.wait_for(lambda: all(c.disconnected or c.state == 0 for c in self.calls), 3.0, "hangups")
        except TimeoutError:
            pass
        for c in self.calls:
            c.stop_playing()
            c.stop_recording()
        self.calls.clear()
        gc.collect()
        try:
            self.acc.shutdown()
        except pj.Error:
            pass
        self.ua.poll(0.05)
        del self.acc
        gc.collect()
        try:
            self.ua.ep.transportClose(self.tid)
        except pj.Error:
            pass
        if self in self.ua.phones:
            self.ua.phones.remove(self)


def _wav_finished(path):
    """True when the WAV's RIFF size covers the whole file (its writer closed it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        return len(head) == 8 and int.from_bytes(head[4:8], "little") + 8 == os.path.getsize(path)
    except OSError:
        return False


def wav_tone(path, freq):
    """Make (once) a -12 dBFS, 8 kHz mono 16-bit sine WAV of ``freq`` Hz."""
    from audio import write_tone

    path = Path(path)
    if not path.exists():
        write_tone(path, freq, seconds=10.0, rate=8000, dbfs=-12.0)
    return path


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "false", "no")
