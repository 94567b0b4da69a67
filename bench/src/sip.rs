//! Just enough SIP over UDP to play many phones at once: REGISTER with digest,
//! INVITE with 407 digest, ACK, BYE, and auto-answering callees.
//!
//! One thread drives everything: two UDP sockets (all callers share one, all
//! registered callees share the other, as SIPp does), messages dispatched by Call-ID,
//! requests retransmitted at T1 doubling until a response arrives.
use crate::rtp::now_ns;
use md5::{Digest, Md5};
use mio::net::UdpSocket as MioUdp;
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const CALLER: Token = Token(0);
const CALLEE: Token = Token(1);
const T1: Duration = Duration::from_millis(500);

/// A parsed SIP message (only what the tool needs).
pub struct Msg {
    pub first: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

fn full_name(n: &str) -> String {
    let n = n.trim().to_ascii_lowercase();
    match n.as_str() {
        "i" => "call-id".into(),
        "v" => "via".into(),
        "f" => "from".into(),
        "t" => "to".into(),
        "m" => "contact".into(),
        "l" => "content-length".into(),
        "c" => "content-type".into(),
        _ => n,
    }
}

impl Msg {
    pub fn parse(data: &[u8]) -> Option<Msg> {
        let text = std::str::from_utf8(data).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let first = lines.next()?.to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
                continue;
            }
            let (n, v) = line.split_once(':')?;
            headers.push((full_name(n), v.trim().to_string()));
        }
        Some(Msg {
            first,
            headers,
            body: body.to_string(),
        })
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn status(&self) -> Option<u16> {
        let rest = self.first.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }
    pub fn method(&self) -> Option<&str> {
        if self.first.starts_with("SIP/2.0") {
            None
        } else {
            self.first.split(' ').next()
        }
    }
    pub fn request_uri(&self) -> Option<&str> {
        self.first.split(' ').nth(1)
    }
    pub fn cseq(&self) -> Option<(u32, String)> {
        let v = self.get("cseq")?;
        let mut it = v.split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?.to_string()))
    }
    pub fn call_id(&self) -> Option<&str> {
        self.get("call-id")
    }
}

/// The `tag` parameter of a From/To value.
pub fn tag_of(v: &str) -> Option<String> {
    let after = v.rsplit_once('>').map_or(v, |(_, p)| p);
    after
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("tag="))
        .map(|t| t.to_string())
        .next()
}

/// The URI inside `<...>` (or the value itself).
pub fn uri_of(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if b > a => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or(v).trim(),
    }
}

/// The user part of a SIP URI.
pub fn user_of(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("sip:")?;
    rest.split_once('@').map(|(u, _)| u)
}

/// The audio address of an SDP body (session or media-level c=, m=audio port).
pub fn sdp_audio(body: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for line in body.lines() {
        let line = line.trim();
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = c.split('/').next().and_then(|s| s.trim().parse().ok());
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            port = m.split(' ').next().and_then(|s| s.parse::<u16>().ok());
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

pub fn sdp(port: u16, id: u64) -> String {
    format!(
        "v=0\r\no=spyload {id} 1 IN IP4 127.0.0.1\r\ns=spyload\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// Parameters of a `Digest ...` challenge.
fn params(v: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let v = v.trim();
    let v = v.strip_prefix("Digest").unwrap_or(v);
    let mut rest = v.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(e) => (q[..e].to_string(), &q[e + 1..]),
                None => (q.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(e) => (after[..e].trim().to_string(), &after[e..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.insert(k, val);
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// An Authorization value answering an MD5 challenge (qop=auth when offered).
pub fn digest(chal: &str, method: &str, uri: &str, user: &str, pass: &str, cnonce: &str) -> String {
    let p = params(chal);
    let realm = p.get("realm").cloned().unwrap_or_default();
    let nonce = p.get("nonce").cloned().unwrap_or_default();
    let ha1 = md5_hex(&format!("{user}:{realm}:{pass}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let qop_auth = p
        .get("qop")
        .is_some_and(|q| q.split(',').any(|x| x.trim() == "auth"));
    let mut out = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm=MD5"
    );
    if qop_auth {
        let nc = "00000001";
        let resp = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        out += &format!(", response=\"{resp}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
    } else {
        let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        out += &format!(", response=\"{resp}\"");
    }
    if let Some(o) = p.get("opaque") {
        out += &format!(", opaque=\"{o}\"");
    }
    out
}

/// Allocates the tool's RTP sockets in its own port range (skipping busy ports).
pub struct Ports {
    lo: u16,
    hi: u16,
    next: u16,
}

impl Ports {
    pub fn new(lo: u16, hi: u16) -> Ports {
        Ports { lo, hi, next: lo }
    }
    pub fn bind(&mut self) -> std::io::Result<UdpSocket> {
        let span = (self.hi - self.lo) as usize + 1;
        for _ in 0..span {
            let p = self.next;
            self.next = if p >= self.hi { self.lo } else { p + 1 };
            if let Ok(s) = UdpSocket::bind(("127.0.0.1", p)) {
                return Ok(s);
            }
        }
        Err(std::io::Error::other(
            "no free port in the tool's RTP range",
        ))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    Calling,
    Up,
    Failed(u16),
    Ending,
    Ended,
}

/// A call this tool places (caller or supervisor side).
pub struct OutCall {
    pub user: String,
    secret: String,
    uri: String,
    local_tag: String,
    remote_tag: Option<String>,
    to_hdr: String,
    cseq: u32,
    pub state: CallState,
    pub started_ns: u64,
    pub answered_ns: Option<u64>,
    /// When the INVITE with credentials went out, and when a final failure came.
    pub authed_ns: Option<u64>,
    pub failed_ns: Option<u64>,
    pub rtp: Option<UdpSocket>,
    pub remote_rtp: Option<SocketAddr>,
    authed: bool,
}

/// A call the PBX placed to one of the tool's callees.
pub struct InCall {
    pub ext: String,
    pub rtp: Option<UdpSocket>,
    pub remote_rtp: Option<SocketAddr>,
    /// The last response sent to the INVITE (180 while ringing, then the 200),
    /// resent when the INVITE is retransmitted.
    answer: Vec<u8>,
    /// The 200 to send once the ringing is over (delayed answer).
    ok: Vec<u8>,
    /// The 487 for the INVITE, should the PBX cancel it while it rings.
    cancelled: Vec<u8>,
    answered: bool,
    /// Our own BYE is out (callee-initiated hang-up).
    bye_sent: bool,
    /// The dialog, for a BYE from this side: the INVITE's From (the PBX's side),
    /// its To with our tag, and the PBX's Contact.
    remote_party: String,
    local_party: String,
    remote_target: String,
}

/// How the callees behave when the PBX rings them. The default (answer at once,
/// never hang up) is what the capacity scenarios want; the queue scenario's agents
/// ring a while, talk a while and then hang up themselves, as agents do.
#[derive(Clone, Copy, Debug, Default)]
pub struct AgentPlan {
    /// Send 180 and answer after a delay drawn from this range (ms); (0, 0): 200 at once.
    pub answer_after_ms: (u64, u64),
    /// Send BYE this long after answering (ms, drawn from the range); None: never.
    pub hangup_after_ms: Option<(u64, u64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentEventKind {
    /// A new INVITE (not a retransmission) reached the callee.
    Invite,
    /// The callee sent its BYE.
    ByeSent,
    /// The PBX answered the callee's BYE (any final response).
    ByeAnswered,
}

/// One moment in a callee's life, on the tool's monotonic clock ([`now_ns`]).
#[derive(Clone, Debug)]
pub struct AgentEvent {
    pub ext: String,
    pub kind: AgentEventKind,
    pub at_ns: u64,
}

/// Something a callee does later: answer a ringing call, or hang it up.
enum Due {
    Answer(String),
    Bye(String),
}

struct ClientTx {
    bytes: Vec<u8>,
    sock: Token,
    next: Instant,
    interval: Duration,
    deadline: Instant,
    call_id: String,
}

enum RegState {
    Pending,
    Ok,
    Failed,
}

struct Reg {
    ext: String,
    secret: String,
    cseq: u32,
    state: RegState,
}

pub struct Engine {
    pbx: SocketAddr,
    poll: Poll,
    caller: MioUdp,
    callee: MioUdp,
    caller_addr: SocketAddr,
    callee_addr: SocketAddr,
    pub ports: Ports,
    /// While set, every call's RTP socket (placed or answered) is one of these,
    /// shared with other calls; see `rtp::RtpPool`.
    pub rtp_pool: Option<crate::rtp::RtpPool>,
    seq: u64,
    txs: HashMap<(String, u32), ClientTx>,
    pub out: HashMap<String, OutCall>,
    pub inc: HashMap<String, InCall>,
    /// The latest incoming call per callee extension.
    pub inc_by_ext: HashMap<String, String>,
    regs: HashMap<String, Reg>,
    /// Calls whose final answer arrived, in order (for the set-up rate test).
    pub timeouts: u64,
    pub stray: u64,
    /// How the callees answer and hang up.
    pub agent_plan: AgentPlan,
    /// When recording (Some), every callee INVITE and BYE with its time.
    pub agent_log: Option<Vec<AgentEvent>>,
    /// INVITEs that reached a callee already in (or ringing for) another call.
    pub rung_while_busy: u64,
    /// How late a callee's delayed answer or BYE went out at worst (ms): the SIP
    /// thread's own lag, so a slow tool shows.
    pub max_due_lag_ms: f64,
    due: Vec<(Instant, Due)>,
    rng: u64,
}

impl Engine {
    pub fn new(pbx: SocketAddr, ports: Ports) -> std::io::Result<Engine> {
        let poll = Poll::new()?;
        let mut caller = MioUdp::bind("127.0.0.1:0".parse().unwrap())?;
        let mut callee = MioUdp::bind("127.0.0.1:0".parse().unwrap())?;
        poll.registry()
            .register(&mut caller, CALLER, Interest::READABLE)?;
        poll.registry()
            .register(&mut callee, CALLEE, Interest::READABLE)?;
        let caller_addr = caller.local_addr()?;
        let callee_addr = callee.local_addr()?;
        Ok(Engine {
            pbx,
            poll,
            caller,
            callee,
            caller_addr,
            callee_addr,
            ports,
            rtp_pool: None,
            seq: 0,
            txs: HashMap::new(),
            out: HashMap::new(),
            inc: HashMap::new(),
            inc_by_ext: HashMap::new(),
            regs: HashMap::new(),
            timeouts: 0,
            stray: 0,
            agent_plan: AgentPlan::default(),
            agent_log: None,
            rung_while_busy: 0,
            max_due_lag_ms: 0.0,
            due: Vec::new(),
            rng: 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()),
        })
    }

    fn id(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A value drawn evenly from `lo..=hi` (xorshift: enough to spread agents' timing).
    fn draw(&mut self, (lo, hi): (u64, u64)) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        if hi <= lo {
            lo
        } else {
            lo + self.rng % (hi - lo + 1)
        }
    }

    fn log_agent(&mut self, ext: &str, kind: AgentEventKind) {
        if let Some(log) = self.agent_log.as_mut() {
            log.push(AgentEvent {
                ext: ext.to_string(),
                kind,
                at_ns: now_ns(),
            });
        }
    }

    fn branch(&mut self) -> String {
        format!("z9hG4bK-sl{}-{}", std::process::id(), self.id())
    }

    fn send(&self, tok: Token, data: &[u8], to: SocketAddr) {
        let s = if tok == CALLER {
            &self.caller
        } else {
            &self.callee
        };
        let _ = s.send_to(data, to);
    }

    fn send_tx(&mut self, tok: Token, call_id: &str, cseq: u32, bytes: Vec<u8>, timeout: Duration) {
        self.send(tok, &bytes, self.pbx);
        let now = Instant::now();
        self.txs.insert(
            (call_id.to_string(), cseq),
            ClientTx {
                bytes,
                sock: tok,
                next: now + T1,
                interval: T1,
                deadline: now + timeout,
                call_id: call_id.to_string(),
            },
        );
    }

    // ---- REGISTER -----------------------------------------------------------
    fn register_req(&mut self, call_id: &str, auth: Option<String>) -> (u32, Vec<u8>) {
        let branch = self.branch();
        let (ext, cseq) = {
            let r = self.regs.get_mut(call_id).expect("reg");
            r.cseq += 1;
            (r.ext.clone(), r.cseq)
        };
        let pbx = self.pbx;
        let me = self.callee_addr;
        let mut m = format!(
            "REGISTER sip:{pbx} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch={branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{ext}@{pbx}>;tag=r{call_id}\r\nTo: <sip:{ext}@{pbx}>\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{ext}@{me}>\r\n\
             Expires: 3600\r\nUser-Agent: spyload\r\n"
        );
        if let Some(a) = auth {
            m += &format!("Authorization: {a}\r\n");
        }
        m += "Content-Length: 0\r\n\r\n";
        (cseq, m.into_bytes())
    }

    /// Register every extension (`parallel` REGISTERs in flight); returns how many
    /// succeeded.
    pub fn register_all(&mut self, exts: &[(String, String)], parallel: usize) -> usize {
        let mut i = 0;
        let mut ok = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        let pending = |e: &Engine| {
            e.regs
                .values()
                .filter(|r| matches!(r.state, RegState::Pending))
                .count()
        };
        loop {
            let mut inflight = pending(self);
            while i < exts.len() && inflight < parallel {
                let call_id = format!("reg-{}-{}", exts[i].0, self.id());
                self.regs.insert(
                    call_id.clone(),
                    Reg {
                        ext: exts[i].0.clone(),
                        secret: exts[i].1.clone(),
                        cseq: 0,
                        state: RegState::Pending,
                    },
                );
                let (cseq, bytes) = self.register_req(&call_id, None);
                self.send_tx(CALLEE, &call_id, cseq, bytes, Duration::from_secs(16));
                i += 1;
                inflight += 1;
            }
            if (i >= exts.len() && pending(self) == 0) || Instant::now() > deadline {
                break;
            }
            self.pump(Duration::from_millis(5));
        }
        self.regs.retain(|_, r| {
            if matches!(r.state, RegState::Ok) {
                ok += 1;
            }
            false
        });
        ok
    }

    // ---- calls ----------------------------------------------------------------
    fn invite(&mut self, call_id: &str, auth: Option<String>) -> Option<(u32, Vec<u8>)> {
        let branch = self.branch();
        let me = self.caller_addr;
        let pbx = self.pbx;
        let c = self.out.get_mut(call_id)?;
        c.cseq += 1;
        let port = c.rtp.as_ref()?.local_addr().ok()?.port();
        let body = sdp(port, c.started_ns);
        let mut m = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch={branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:{user}@{pbx}>;tag={tag}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
             Contact: <sip:{user}@{me}>\r\nUser-Agent: spyload\r\nContent-Type: application/sdp\r\n",
            uri = c.uri,
            user = c.user,
            tag = c.local_tag,
            cseq = c.cseq
        );
        if let Some(a) = auth {
            m += &format!("Proxy-Authorization: {a}\r\n");
        }
        m += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
        Some((c.cseq, m.into_bytes()))
    }

    /// A call's RTP socket: one of the pool's while there is one, else its own.
    fn rtp_socket(&mut self) -> std::io::Result<UdpSocket> {
        match &mut self.rtp_pool {
            Some(p) => p.next(),
            None => self.ports.bind(),
        }
    }

    /// Calls `f` with every call it places getting an RTP socket of its own (a
    /// supervisor's leg hears a mix without the stamps that say whose it is).
    pub fn with_own_sockets<R>(&mut self, f: impl FnOnce(&mut Engine) -> R) -> R {
        let pool = self.rtp_pool.take();
        let r = f(self);
        self.rtp_pool = pool;
        r
    }

    /// Place a call from `user` to `target` (a dialplan extension); returns its Call-ID.
    pub fn call(&mut self, user: &str, secret: &str, target: &str) -> Option<String> {
        let rtp = self.rtp_socket().ok()?;
        let n = self.id();
        let call_id = format!("call-{}-{n}", std::process::id());
        let uri = format!("sip:{target}@{}", self.pbx);
        self.out.insert(
            call_id.clone(),
            OutCall {
                user: user.to_string(),
                secret: secret.to_string(),
                to_hdr: format!("<{uri}>"),
                uri,
                local_tag: format!("t{n}"),
                remote_tag: None,
                cseq: 0,
                state: CallState::Calling,
                started_ns: now_ns(),
                answered_ns: None,
                authed_ns: None,
                failed_ns: None,
                rtp: Some(rtp),
                remote_rtp: None,
                authed: false,
            },
        );
        let (cseq, bytes) = self.invite(&call_id, None)?;
        self.send_tx(CALLER, &call_id, cseq, bytes, Duration::from_secs(32));
        Some(call_id)
    }

    fn ack(&mut self, call_id: &str, cseq: u32, to_hdr: &str, branch: Option<String>, uri: &str) {
        let me = self.caller_addr;
        let pbx = self.pbx;
        let branch = branch.unwrap_or_else(|| self.branch());
        let Some(c) = self.out.get(call_id) else {
            return;
        };
        let m = format!(
            "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch={branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:{user}@{pbx}>;tag={tag}\r\nTo: {to_hdr}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\n\
             Content-Length: 0\r\n\r\n",
            user = c.user,
            tag = c.local_tag
        );
        self.send(CALLER, m.as_bytes(), self.pbx);
    }

    /// Hang up an established call (BYE); a call still ringing is left to time out.
    pub fn hangup(&mut self, call_id: &str) {
        let branch = self.branch();
        let me = self.caller_addr;
        let pbx = self.pbx;
        let Some(c) = self.out.get_mut(call_id) else {
            return;
        };
        if c.state != CallState::Up {
            return;
        }
        c.cseq += 1;
        c.state = CallState::Ending;
        let m = format!(
            "BYE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch={branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:{user}@{pbx}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} BYE\r\n\
             Content-Length: 0\r\n\r\n",
            uri = c.uri,
            user = c.user,
            tag = c.local_tag,
            to = c.to_hdr,
            cseq = c.cseq
        );
        let cseq = c.cseq;
        self.send_tx(
            CALLER,
            call_id,
            cseq,
            m.into_bytes(),
            Duration::from_secs(8),
        );
    }

    /// Hang up every established call and wait (bounded) until they are gone.
    pub fn hangup_all(&mut self, within: Duration) {
        let ids: Vec<String> = self.out.keys().cloned().collect();
        let mut sent = 0;
        for id in ids {
            self.hangup(&id);
            sent += 1;
            if sent % 50 == 0 {
                self.pump(Duration::from_millis(2));
            }
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline && self.out.values().any(|c| c.state == CallState::Ending) {
            self.pump(Duration::from_millis(10));
        }
        self.pump(Duration::from_millis(200));
        self.out.clear();
        self.inc.clear();
        self.inc_by_ext.clear();
        self.txs.clear();
        self.due.clear();
    }

    // ---- the event loop ----------------------------------------------------------
    /// Handle input and retransmissions for `dur`.
    pub fn pump(&mut self, dur: Duration) {
        let end = Instant::now() + dur;
        let mut events = Events::with_capacity(256);
        let mut buf = vec![0u8; 65536];
        loop {
            self.timers();
            let now = Instant::now();
            if now >= end {
                break;
            }
            let wake = self
                .due
                .iter()
                .map(|d| d.0)
                .min()
                .map_or(end, |d| d.min(end));
            let _ = self
                .poll
                .poll(&mut events, Some(wake.saturating_duration_since(now)));
            for ev in events.iter() {
                let tok = ev.token();
                loop {
                    let r = if tok == CALLER {
                        self.caller.recv_from(&mut buf)
                    } else {
                        self.callee.recv_from(&mut buf)
                    };
                    match r {
                        Ok((n, from)) => {
                            if let Some(m) = Msg::parse(&buf[..n]) {
                                self.on_msg(tok, m, from);
                            } else {
                                self.stray += 1;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
            }
        }
    }

    fn timers(&mut self) {
        self.run_due();
        let now = Instant::now();
        let mut dead = Vec::new();
        let mut resend = Vec::new();
        for (k, tx) in self.txs.iter_mut() {
            if now >= tx.deadline {
                dead.push(k.clone());
            } else if now >= tx.next {
                resend.push(k.clone());
                tx.interval = (tx.interval * 2).min(Duration::from_secs(4));
                tx.next = now + tx.interval;
            }
        }
        for k in resend {
            let tx = &self.txs[&k];
            self.send(tx.sock, &tx.bytes, self.pbx);
        }
        for k in dead {
            let Some(tx) = self.txs.remove(&k) else {
                continue;
            };
            self.timeouts += 1;
            if let Some(c) = self.out.get_mut(&tx.call_id) {
                c.state = match c.state {
                    CallState::Calling => CallState::Failed(408),
                    CallState::Ending => CallState::Ended,
                    s => s,
                };
            }
            if let Some(r) = self.regs.get_mut(&tx.call_id) {
                r.state = RegState::Failed;
            }
            if self.inc.get(&tx.call_id).is_some_and(|c| c.bye_sent) {
                self.forget_incoming(&tx.call_id);
            }
        }
    }

    /// The callees' delayed answers and hang-ups that are due.
    fn run_due(&mut self) {
        if self.due.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut i = 0;
        while i < self.due.len() {
            if self.due[i].0 > now {
                i += 1;
                continue;
            }
            let (at, what) = self.due.swap_remove(i);
            let lag = now.duration_since(at).as_secs_f64() * 1e3;
            self.max_due_lag_ms = self.max_due_lag_ms.max(lag);
            match what {
                Due::Answer(id) => self.answer_now(&id),
                Due::Bye(id) => self.callee_bye(&id),
            }
        }
    }

    /// Send a ringing call's 200 and, if the plan says so, schedule its hang-up.
    fn answer_now(&mut self, call_id: &str) {
        let Some(c) = self.inc.get_mut(call_id) else {
            return;
        };
        if c.answered {
            return;
        }
        c.answered = true;
        c.answer = c.ok.clone();
        let ok = c.ok.clone();
        self.send(CALLEE, &ok, self.pbx);
        if let Some(range) = self.agent_plan.hangup_after_ms {
            let after = Duration::from_millis(self.draw(range));
            self.due
                .push((Instant::now() + after, Due::Bye(call_id.to_string())));
        }
    }

    /// The callee hangs up: BYE within the PBX's dialog (From/To swapped from the
    /// INVITE, to its Contact), retransmitted like any request.
    fn callee_bye(&mut self, call_id: &str) {
        let branch = self.branch();
        let me = self.callee_addr;
        let Some(c) = self.inc.get_mut(call_id) else {
            return;
        };
        if !c.answered || c.bye_sent {
            return;
        }
        c.bye_sent = true;
        let m = format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch={branch}\r\nMax-Forwards: 70\r\n\
             From: {local}\r\nTo: {remote}\r\nCall-ID: {call_id}\r\nCSeq: 1 BYE\r\n\
             User-Agent: spyload\r\nContent-Length: 0\r\n\r\n",
            target = c.remote_target,
            local = c.local_party,
            remote = c.remote_party,
        );
        let ext = c.ext.clone();
        self.send_tx(CALLEE, call_id, 1, m.into_bytes(), Duration::from_secs(8));
        self.log_agent(&ext, AgentEventKind::ByeSent);
    }

    /// Drop an incoming call (and its by-extension entry if it is the latest).
    fn forget_incoming(&mut self, call_id: &str) {
        if let Some(c) = self.inc.remove(call_id) {
            if self.inc_by_ext.get(&c.ext).map(String::as_str) == Some(call_id) {
                self.inc_by_ext.remove(&c.ext);
            }
        }
    }

    fn on_msg(&mut self, tok: Token, m: Msg, from: SocketAddr) {
        if m.status().is_some() {
            self.on_response(m);
        } else if tok == CALLEE {
            self.on_callee_request(m, from);
        } else {
            self.on_caller_request(m, from);
        }
    }

    fn on_response(&mut self, m: Msg) {
        let (Some(code), Some(call_id), Some((cseq, method))) = (m.status(), m.call_id(), m.cseq())
        else {
            return;
        };
        let call_id = call_id.to_string();
        let key = (call_id.clone(), cseq);
        if method == "REGISTER" {
            if code < 200 {
                return;
            }
            self.txs.remove(&key);
            let Some(r) = self.regs.get_mut(&call_id) else {
                return;
            };
            if r.cseq != cseq {
                return;
            }
            if code == 401 && r.cseq == 1 {
                let chal = m.get("www-authenticate").unwrap_or("").to_string();
                let (ext, secret) = (r.ext.clone(), r.secret.clone());
                let uri = format!("sip:{}", self.pbx);
                let cn = format!("{:x}", self.id());
                let auth = digest(&chal, "REGISTER", &uri, &ext, &secret, &cn);
                let (cseq, bytes) = self.register_req(&call_id, Some(auth));
                self.send_tx(CALLEE, &call_id, cseq, bytes, Duration::from_secs(16));
            } else if (200..300).contains(&code) {
                r.state = RegState::Ok;
            } else {
                r.state = RegState::Failed;
            }
            return;
        }
        if method == "BYE" {
            if code >= 200 {
                self.txs.remove(&key);
                if let Some(c) = self.out.get_mut(&call_id) {
                    c.state = CallState::Ended;
                }
                self.out.remove(&call_id);
                if let Some(ext) = self
                    .inc
                    .get(&call_id)
                    .filter(|c| c.bye_sent)
                    .map(|c| c.ext.clone())
                {
                    self.log_agent(&ext, AgentEventKind::ByeAnswered);
                    self.forget_incoming(&call_id);
                }
            }
            return;
        }
        if method != "INVITE" {
            return;
        }
        // INVITE: any response stops retransmission (a 1xx means the PBX has it).
        if code < 200 {
            if let Some(tx) = self.txs.get_mut(&key) {
                tx.next = tx.deadline; // no more resends; the deadline still applies
                tx.bytes.clear();
            }
            return;
        }
        self.txs.remove(&key);
        let to_hdr = m.get("to").unwrap_or("").to_string();
        let Some(c) = self.out.get_mut(&call_id) else {
            return;
        };
        if (200..300).contains(&code) {
            let contact = m.get("contact").map(|v| uri_of(v).to_string());
            let ack_uri = contact.unwrap_or_else(|| c.uri.clone());
            if c.state == CallState::Calling && c.cseq == cseq {
                c.state = CallState::Up;
                c.answered_ns = Some(now_ns());
                c.remote_tag = tag_of(&to_hdr);
                c.to_hdr = to_hdr.clone();
                c.remote_rtp = sdp_audio(&m.body);
                c.uri = ack_uri.clone();
            }
            self.ack(&call_id, cseq, &to_hdr, None, &ack_uri);
            return;
        }
        // Non-2xx final: ACK it in the INVITE's transaction (same branch).
        let branch = m.get("via").and_then(|v| {
            v.split(';')
                .find_map(|p| p.trim().strip_prefix("branch=").map(String::from))
        });
        let uri = c.uri.clone();
        let first_407 = code == 407 && !c.authed && c.cseq == cseq;
        if !first_407 && c.cseq == cseq && c.state == CallState::Calling {
            c.state = CallState::Failed(code);
            c.failed_ns = Some(now_ns());
        }
        self.ack(&call_id, cseq, &to_hdr, branch, &uri);
        if first_407 {
            let chal = m.get("proxy-authenticate").unwrap_or("").to_string();
            let c = self.out.get_mut(&call_id).expect("call");
            c.authed = true;
            c.authed_ns = Some(now_ns());
            let (user, secret) = (c.user.clone(), c.secret.clone());
            let cn = format!("{:x}", self.id());
            let auth = digest(&chal, "INVITE", &uri, &user, &secret, &cn);
            if let Some((cseq, bytes)) = self.invite(&call_id, Some(auth)) {
                self.send_tx(CALLER, &call_id, cseq, bytes, Duration::from_secs(32));
            }
        }
    }

    fn reply(
        &self,
        req: &Msg,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
        extra: &str,
        body: &str,
    ) -> Vec<u8> {
        let mut m = format!("SIP/2.0 {code} {reason}\r\n");
        for v in req.all("via") {
            m += &format!("Via: {v}\r\n");
        }
        m += &format!("From: {}\r\n", req.get("from").unwrap_or(""));
        let to = req.get("to").unwrap_or("");
        match to_tag {
            Some(t) if tag_of(to).is_none() => m += &format!("To: {to};tag={t}\r\n"),
            _ => m += &format!("To: {to}\r\n"),
        }
        m += &format!(
            "Call-ID: {}\r\nCSeq: {}\r\n",
            req.call_id().unwrap_or(""),
            req.get("cseq").unwrap_or("")
        );
        m += extra;
        m += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
        m.into_bytes()
    }

    fn on_callee_request(&mut self, m: Msg, from: SocketAddr) {
        let Some(method) = m.method().map(str::to_string) else {
            return;
        };
        let call_id = m.call_id().unwrap_or("").to_string();
        match method.as_str() {
            "INVITE" => {
                if let Some(c) = self.inc.get(&call_id) {
                    let a = c.answer.clone();
                    self.send(CALLEE, &a, from);
                    return;
                }
                let ext = m.request_uri().and_then(user_of).unwrap_or("").to_string();
                self.log_agent(&ext, AgentEventKind::Invite);
                if self.inc_by_ext.contains_key(&ext) {
                    self.rung_while_busy += 1;
                }
                let Ok(rtp) = self.rtp_socket() else {
                    let r = self.reply(&m, 503, "No Ports", Some("x"), "", "");
                    self.send(CALLEE, &r, from);
                    return;
                };
                let port = rtp.local_addr().map(|a| a.port()).unwrap_or(0);
                let n = self.id();
                let body = sdp(port, n);
                let extra = format!(
                    "Contact: <sip:{ext}@{}>\r\nContent-Type: application/sdp\r\n",
                    self.callee_addr
                );
                let tag = format!("a{n}");
                let ok = self.reply(&m, 200, "OK", Some(&tag), &extra, &body);
                let delay = self.draw(self.agent_plan.answer_after_ms);
                let (answer, cancelled) = if delay == 0 {
                    (ok.clone(), Vec::new())
                } else {
                    let contact = format!("Contact: <sip:{ext}@{}>\r\n", self.callee_addr);
                    (
                        self.reply(&m, 180, "Ringing", Some(&tag), &contact, ""),
                        self.reply(&m, 487, "Request Terminated", Some(&tag), "", ""),
                    )
                };
                if delay > 0 {
                    self.send(CALLEE, &answer, from);
                }
                let to = m.get("to").unwrap_or("");
                let local_party = if tag_of(to).is_none() {
                    format!("{to};tag={tag}")
                } else {
                    to.to_string()
                };
                let remote_target = m
                    .get("contact")
                    .map(|v| uri_of(v).to_string())
                    .unwrap_or_else(|| format!("sip:{}", self.pbx));
                self.inc_by_ext.insert(ext.clone(), call_id.clone());
                self.inc.insert(
                    call_id.clone(),
                    InCall {
                        ext,
                        rtp: Some(rtp),
                        remote_rtp: sdp_audio(&m.body),
                        answer,
                        ok,
                        cancelled,
                        answered: false,
                        bye_sent: false,
                        remote_party: m.get("from").unwrap_or("").to_string(),
                        local_party,
                        remote_target,
                    },
                );
                if delay == 0 {
                    self.answer_now(&call_id);
                } else {
                    let at = Instant::now() + Duration::from_millis(delay);
                    self.due.push((at, Due::Answer(call_id)));
                }
            }
            "ACK" => {}
            "BYE" | "CANCEL" => {
                let r = self.reply(&m, 200, "OK", None, "", "");
                self.send(CALLEE, &r, from);
                if method == "CANCEL" {
                    // A ringing INVITE ends with 487 (a real phone's answer to CANCEL).
                    if let Some(c) = self.inc.get(&call_id).filter(|c| !c.answered) {
                        let t = c.cancelled.clone();
                        self.send(CALLEE, &t, from);
                    }
                }
                self.forget_incoming(&call_id);
            }
            _ => {
                let r = self.reply(&m, 200, "OK", None, "", "");
                self.send(CALLEE, &r, from);
            }
        }
    }

    fn on_caller_request(&mut self, m: Msg, from: SocketAddr) {
        let Some(method) = m.method().map(str::to_string) else {
            return;
        };
        if method == "ACK" {
            return;
        }
        let call_id = m.call_id().unwrap_or("").to_string();
        let r = self.reply(&m, 200, "OK", None, "", "");
        self.send(CALLER, &r, from);
        if method == "BYE" {
            if let Some(c) = self.out.get_mut(&call_id) {
                c.state = CallState::Ended;
            }
        }
    }

    /// Drop finished calls (ended or failed) from the caller table.
    pub fn forget_finished(&mut self) {
        self.out
            .retain(|_, c| !matches!(c.state, CallState::Ended | CallState::Failed(_)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_rfc2617_example() {
        // RFC 2617 section 3.5 (qop=auth).
        let chal = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let a = digest(
            chal,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
        );
        assert!(
            a.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{a}"
        );
        assert!(a.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    }

    /// A callee with a plan rings, answers after the delay and hangs up itself
    /// within the PBX's dialog; the log has the INVITE, the BYE and its answer.
    #[test]
    fn callee_rings_answers_and_hangs_up() {
        let pbx = UdpSocket::bind("127.0.0.1:0").unwrap();
        pbx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let pa = pbx.local_addr().unwrap();
        let mut e = Engine::new(pa, Ports::new(61000, 61100)).unwrap();
        e.agent_plan = AgentPlan {
            answer_after_ms: (50, 50),
            hangup_after_ms: Some((50, 50)),
        };
        e.agent_log = Some(Vec::new());
        let me = e.callee_addr;
        let body = sdp(4000, 1);
        let invite = format!(
            "INVITE sip:20001@{me} SIP/2.0\r\nVia: SIP/2.0/UDP {pa};branch=z9hG4bK-t1\r\n\
             From: <sip:800@{pa}>;tag=p1\r\nTo: <sip:20001@{me}>\r\nCall-ID: t-1\r\n\
             CSeq: 7 INVITE\r\nContact: <sip:800@{pa}>\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        pbx.send_to(invite.as_bytes(), me).unwrap();
        let mut buf = [0u8; 4096];
        let mut next = |e: &mut Engine, ms: u64| {
            e.pump(Duration::from_millis(ms));
            let (n, _) = pbx.recv_from(&mut buf).unwrap();
            Msg::parse(&buf[..n]).unwrap()
        };
        assert_eq!(next(&mut e, 20).status(), Some(180));
        let ok = next(&mut e, 80);
        assert_eq!(ok.status(), Some(200));
        let bye = next(&mut e, 100);
        assert_eq!(bye.method(), Some("BYE"));
        assert_eq!(bye.request_uri(), Some(format!("sip:800@{pa}").as_str()));
        assert_eq!(tag_of(bye.get("to").unwrap()).as_deref(), Some("p1"));
        assert_eq!(
            tag_of(bye.get("from").unwrap()),
            tag_of(ok.get("to").unwrap())
        );
        let reply = format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: t-1\r\nCSeq: 1 BYE\r\n\
             Content-Length: 0\r\n\r\n",
            bye.get("via").unwrap(),
            bye.get("from").unwrap(),
            bye.get("to").unwrap()
        );
        pbx.send_to(reply.as_bytes(), me).unwrap();
        e.pump(Duration::from_millis(20));
        let kinds: Vec<AgentEventKind> = e
            .agent_log
            .as_ref()
            .unwrap()
            .iter()
            .map(|x| x.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                AgentEventKind::Invite,
                AgentEventKind::ByeSent,
                AgentEventKind::ByeAnswered
            ]
        );
        assert!(e.inc.is_empty() && e.inc_by_ext.is_empty());
    }

    #[test]
    fn parses_messages_and_sdp() {
        let raw = b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 1.2.3.4\r\nTo: <sip:a@b>;tag=xyz\r\ni: abc\r\nCSeq: 2 INVITE\r\n\r\nv=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
        let m = Msg::parse(raw).unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.call_id(), Some("abc"));
        assert_eq!(m.cseq(), Some((2, "INVITE".into())));
        assert_eq!(tag_of(m.get("to").unwrap()).as_deref(), Some("xyz"));
        assert_eq!(sdp_audio(&m.body), Some("127.0.0.1:4000".parse().unwrap()));
    }
}
