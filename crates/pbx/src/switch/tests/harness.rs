//! A switch on a virtual network in virtual time: phones are plain structs that
//! build SIP messages and read what the switch sent them; time moves only when a
//! test says so. No sockets, no database, no tasks.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use media::Side;
use sip::{Message, Method, NameAddr, Peer, Request, Response, Transport, Uri};
use store::{ConfigSnapshot, StoredLocation};

use crate::chan::{ChanEvent, ChanOp, ChanRequest};
use crate::events::Event;
use crate::switch::{
    BridgeId, CallId, MediaOp, MediaPorts, MediaUnavailable, OpenedBridge, Output, Spawn, Switch,
    SwitchInit,
};
use crate::{LoadedPlan, PbxConfig};

pub const PBX: &str = "127.0.0.1:5060";
/// The TLS listener of the switch under test.
pub const PBX_TLS: &str = "127.0.0.1:5061";
pub const REALM: &str = "spygroup";

/// The dialplan the tests run: every number is dialled as an extension.
const PLAN: &str = "\
[from-internal]
exten => _X.,1,Dial(SIP/${EXTEN},30)
exten => *222,1,ChanSpy()
[from-trunk]
exten => _X.,1,Dial(SIP/${EXTEN},30)
";

/// Hands out bridges with predictable ports; can be made to run out.
pub struct FakeMedia {
    next: u64,
    exhausted: Arc<AtomicBool>,
}

impl MediaPorts for FakeMedia {
    fn open(&mut self) -> Result<OpenedBridge, MediaUnavailable> {
        if self.exhausted.load(Ordering::Relaxed) {
            return Err(MediaUnavailable("no free RTP port pair".into()));
        }
        let n = self.next;
        self.next += 1;
        let base = 10_000 + 4 * n as u16;
        Ok(OpenedBridge {
            id: BridgeId(n),
            ports: [base, base + 2],
        })
    }
}

/// Extensions 101..=110 with secret `pw<n>`, 201 a supervisor of group `sales`
/// (listen, whisper), 110 in `sales`, a trunk `carrier` at 127.0.0.9.
pub fn default_config() -> ConfigSnapshot {
    let mut b = ConfigSnapshot::builder().realm(REALM);
    for n in 101..=110 {
        b = b.extension(&n.to_string(), &format!("pw{n}"), "from-internal");
    }
    b = b
        .extension("201", "pw201", "from-internal")
        .extension("202", "pw202", "from-internal")
        .group("sales", None)
        .group_member("sales", "110")
        .supervisor(store::Grant {
            extension: "201".into(),
            groups: store::GroupScope::Groups(vec!["sales".into()]),
            modes: vec![store::SpyMode::Listen, store::SpyMode::Whisper],
            queues: vec![],
        })
        .trunk(store::Trunk {
            name: "carrier".into(),
            host: "127.0.0.9".parse().unwrap(),
            port: None,
            context: "from-trunk".into(),
        });
    b.build()
}

pub struct Net {
    pub sw: Switch,
    pub now: Instant,
    pub wall: SystemTime,
    /// Outputs polled and not yet taken by a test.
    pub out: VecDeque<Output>,
    /// Set to make the media run out of ports.
    pub ports_exhausted: Arc<AtomicBool>,
}

impl Net {
    pub fn new() -> Net {
        Net::with(default_config(), PbxConfig::default())
    }

    pub fn with(config: ConfigSnapshot, mut cfg: PbxConfig) -> Net {
        cfg.media_ip = "127.0.0.1".parse().unwrap();
        cfg.no_answer_timeout = Duration::from_secs(60);
        let (plan, _) =
            dialplan::Dialplan::parse_str("test.conf", PLAN, &Default::default()).unwrap();
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ports_exhausted = Arc::new(AtomicBool::new(false));
        let sw = Switch::new(SwitchInit {
            cfg,
            local: PBX.parse().unwrap(),
            tls_local: Some(PBX_TLS.parse().unwrap()),
            realm: REALM.into(),
            config: Arc::new(config),
            plan: LoadedPlan::new(plan),
            media: Box::new(FakeMedia {
                next: 1,
                exhausted: ports_exhausted.clone(),
            }),
            now,
            wall,
        });
        let mut net = Net {
            sw,
            now,
            wall,
            out: VecDeque::new(),
            ports_exhausted,
        };
        net.pump();
        net
    }

    pub fn pump(&mut self) {
        while let Some(o) = self.sw.poll_output() {
            self.out.push_back(o);
        }
    }

    /// Lets `d` of virtual time pass, firing every timer due on the way.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let next = self.sw.poll_timeout();
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            self.sw.handle_timeout(self.now);
            self.pump();
        }
        self.now = until;
    }

    /// A message from `from`, through the wire format.
    pub fn deliver(&mut self, from: &Phone, msg: impl Into<Message>) {
        let bytes = msg.into().to_bytes();
        let msg = sip::parse_datagram(&bytes).expect("the test built a valid message");
        self.sw.handle_sip(from.peer(), msg, self.now);
        self.pump();
    }

    /// A channel task's request.
    pub fn chan(&mut self, call: CallId, op: ChanOp) {
        self.sw.handle_chan(ChanRequest { call, op }, self.now);
        self.pump();
    }

    /// Takes the outputs `f` picks, in order, leaving the others.
    pub fn take<T>(&mut self, mut f: impl FnMut(&Output) -> Option<T>) -> Vec<T> {
        let mut got = Vec::new();
        let mut rest = VecDeque::new();
        for o in self.out.drain(..) {
            match f(&o) {
                Some(t) => got.push(t),
                None => rest.push_back(o),
            }
        }
        self.out = rest;
        got
    }

    /// SIP messages sent to `phone` since last asked, in order.
    pub fn sent_to(&mut self, phone: &Phone) -> Vec<Message> {
        let peer = phone.peer();
        self.take(|o| match o {
            Output::Transmit(t) if t.peer == peer => {
                Some(sip::parse_datagram(&t.data).expect("the switch sent valid SIP"))
            }
            _ => None,
        })
    }

    /// Requests sent to `phone`, skipping responses.
    pub fn requests_to(&mut self, phone: &Phone) -> Vec<Request> {
        self.sent_to(phone)
            .into_iter()
            .filter_map(|m| match m {
                Message::Request(r) => Some(r),
                Message::Response(_) => None,
            })
            .collect()
    }

    /// Response statuses sent to `phone`.
    pub fn statuses_to(&mut self, phone: &Phone) -> Vec<u16> {
        self.responses_to(phone).iter().map(|r| r.status).collect()
    }

    pub fn responses_to(&mut self, phone: &Phone) -> Vec<Response> {
        self.sent_to(phone)
            .into_iter()
            .filter_map(|m| match m {
                Message::Response(r) => Some(r),
                Message::Request(_) => None,
            })
            .collect()
    }

    pub fn spawned(&mut self) -> Vec<Spawn> {
        self.take(|o| match o {
            Output::Spawn(s) => Some(s.clone()),
            _ => None,
        })
    }

    pub fn chan_events(&mut self, call: CallId) -> Vec<ChanEvent> {
        self.take(|o| match o {
            Output::Chan { call: c, event } if *c == call => Some(event.clone()),
            _ => None,
        })
    }

    pub fn media_ops(&mut self) -> Vec<(BridgeId, MediaOp)> {
        self.take(|o| match o {
            Output::Media { bridge, op } => Some((*bridge, op.clone())),
            _ => None,
        })
    }

    pub fn writes(&mut self) -> Vec<store::Write> {
        self.take(|o| match o {
            Output::Store(w) => Some(w.clone()),
            _ => None,
        })
    }

    pub fn events(&mut self) -> Vec<Event> {
        self.take(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
    }

    /// Registers `phone` as if its REGISTER had been stored (no digest exchange).
    pub fn register(&mut self, phone: &Phone) {
        let loc = StoredLocation {
            aor: phone.user.clone(),
            contact_uri: phone.contact_uri(),
            source_transport: "UDP".into(),
            source_addr: phone.addr,
            expires_at: self.wall + Duration::from_secs(3600),
            call_id: format!("reg-{}", phone.user),
            cseq: 1,
            user_agent: None,
        };
        self.sw.restore_locations(vec![loc], self.now);
    }

    /// `caller` (a trunk, no digest needed) calls `to`: the INVITE arrives, the
    /// dialplan task is spawned and asks for the Dial. Returns the call and the
    /// INVITE the caller sent.
    pub fn trunk_call(&mut self, caller: &mut Phone, to: &str) -> (CallId, Request) {
        let invite = caller.invite(to, Some(&sdp_offer(caller.rtp)));
        self.deliver(caller, invite.clone());
        let spawn = self
            .spawned()
            .pop()
            .expect("a channel task for the new call");
        self.dial(spawn.call, to);
        (spawn.call, invite)
    }

    /// The call's dialplan asks for `Dial(SIP/<endpoint>)`.
    pub fn dial(&mut self, call: CallId, endpoint: &str) {
        self.chan(
            call,
            ChanOp::Dial {
                endpoints: vec![endpoint.to_string()],
                timeout: None,
                vars: Vec::new(),
            },
        );
    }

    /// The 200 the PBX sent `phone` (the answer to its INVITE).
    pub fn ok_to(&mut self, phone: &Phone) -> Response {
        self.responses_to(phone)
            .into_iter()
            .find(|r| r.status == 200)
            .expect("a 200")
    }

    /// `phone` registers with its digest (secret `secret`); the final response.
    pub fn register_with(&mut self, phone: &mut Phone, secret: &str) -> Response {
        let req = phone.register(3600);
        self.deliver(phone, req.clone());
        let challenge = self.responses_to(phone).pop().expect("a challenge");
        assert_eq!(challenge.status, 401);
        let again = phone.authorized(&req, &challenge, secret);
        self.deliver(phone, again);
        self.responses_to(phone).pop().expect("an answer")
    }
}

/// A SIP phone on the virtual network.
pub struct Phone {
    pub user: String,
    pub addr: SocketAddr,
    /// Where it receives RTP (in its SDP).
    pub rtp: SocketAddr,
    /// How it reaches the PBX (UDP unless `over` says otherwise).
    pub transport: Transport,
    cseq: u32,
}

impl Phone {
    pub fn new(user: &str, addr: &str) -> Phone {
        let addr: SocketAddr = addr.parse().unwrap();
        Phone {
            user: user.to_string(),
            addr,
            rtp: SocketAddr::new(addr.ip(), addr.port() + 10_000),
            transport: Transport::Udp,
            cseq: 0,
        }
    }

    /// The same phone on another transport (its connection to the PBX).
    pub fn over(mut self, transport: Transport) -> Phone {
        self.transport = transport;
        self
    }

    pub fn peer(&self) -> Peer {
        Peer::new(self.transport, self.addr)
    }

    pub fn contact_uri(&self) -> String {
        match self.transport.uri_param() {
            None => format!("sip:{}@{}", self.user, self.addr),
            Some(t) => format!("sip:{}@{};transport={t}", self.user, self.addr),
        }
    }

    /// A request from this phone with the next CSeq of its own.
    fn request(
        &mut self,
        method: Method,
        uri: &str,
        call_id: &str,
        from: &str,
        to: &str,
    ) -> Request {
        self.cseq += 1;
        let mut r = Request::new(method.clone(), uri.parse::<Uri>().unwrap());
        let h = &mut r.headers;
        h.push(
            "Via",
            format!(
                "SIP/2.0/{} {};branch={};rport",
                self.transport,
                self.addr,
                sip::new_branch()
            ),
        );
        h.push("Max-Forwards", "70");
        h.push("From", from.to_string());
        h.push("To", to.to_string());
        h.push("Call-ID", call_id.to_string());
        h.push("CSeq", format!("{} {}", self.cseq, method.as_str()));
        h.push("Contact", format!("<{}>", self.contact_uri()));
        r
    }

    /// Our identity at the PBX with a tag, as From.
    fn me(&self, tag: &str) -> String {
        format!("<sip:{}@{}>;tag={tag}", self.user, PBX)
    }

    /// A new INVITE to `to` at the PBX, with `sdp` (None: late offer).
    pub fn invite(&mut self, to: &str, sdp: Option<&str>) -> Request {
        let call_id = format!("{}-{}", sip::new_tag(), self.user);
        let from = self.me(&sip::new_tag());
        let mut r = self.request(
            Method::Invite,
            &format!("sip:{to}@{PBX}"),
            &call_id,
            &from,
            &format!("<sip:{to}@{PBX}>"),
        );
        if let Some(sdp) = sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = sdp.as_bytes().to_vec();
        }
        r
    }

    /// A request inside the dialog that `resp` (our 2xx to `invite`) established,
    /// as the UAC of that dialog.
    pub fn in_dialog(&mut self, method: Method, invite: &Request, resp: &Response) -> Request {
        let from = invite.headers.get("From").unwrap().to_string();
        let to = resp.headers.get("To").unwrap().to_string();
        let target = resp
            .headers
            .get("Contact")
            .map_or_else(|| invite.uri.to_string(), uri_of);
        let mut r = self.request(
            method.clone(),
            &target,
            invite.call_id().unwrap(),
            &from,
            &to,
        );
        if method == Method::Ack {
            // ACK for a 2xx reuses the INVITE's CSeq number.
            self.cseq -= 1;
            r.headers
                .set("CSeq", format!("{} ACK", invite.cseq().unwrap().seq));
        }
        r
    }

    /// A request inside the dialog the PBX started with `invite` (we are its UAS):
    /// From and To swap.
    pub fn in_callee_dialog(&mut self, method: Method, invite: &Request, our_tag: &str) -> Request {
        let target = uri_of(invite.headers.get("Contact").unwrap());
        let mut me: NameAddr = invite.headers.get("To").unwrap().parse().unwrap();
        me.set_tag(our_tag);
        let them = invite.headers.get("From").unwrap().to_string();
        let call_id = invite.call_id().unwrap().to_string();
        self.request(method, &target, &call_id, &me.to_string(), &them)
    }

    /// CANCEL for an INVITE we sent (RFC 3261 9.1: same branch, same CSeq number).
    pub fn cancel(&self, invite: &Request) -> Request {
        let mut r = Request::new(Method::Cancel, invite.uri.clone());
        for name in ["Via", "From", "To", "Call-ID"] {
            r.headers
                .push(name, invite.headers.get(name).unwrap().to_string());
        }
        r.headers.push("Max-Forwards", "70");
        r.headers
            .push("CSeq", format!("{} CANCEL", invite.cseq().unwrap().seq));
        r
    }

    /// The INVITE or REGISTER again, with digest credentials answering `challenge`.
    pub fn authorized(&mut self, req: &Request, challenge: &Response, secret: &str) -> Request {
        let (header, out) = match challenge.status {
            401 => ("WWW-Authenticate", "Authorization"),
            _ => ("Proxy-Authenticate", "Proxy-Authorization"),
        };
        let offer = challenge.headers.get(header).expect("a challenge");
        let nonce = offer
            .split("nonce=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a nonce");
        let uri = req.uri.to_string();
        let draft = format!(
            "Digest username=\"{u}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"00000000000000000000000000000000\", algorithm=MD5",
            u = self.user
        );
        let creds = sip::auth::Credentials::parse(&draft).unwrap();
        let ha1 = sip::auth::ha1(sip::auth::Algorithm::Md5, &self.user, REALM, secret);
        let response = sip::auth::expected_response(&creds, req.method.as_str(), &ha1);
        let mut again = req.clone();
        again.headers.remove_first("Via");
        again.headers.insert_first(
            "Via",
            format!(
                "SIP/2.0/UDP {};branch={};rport",
                self.addr,
                sip::new_branch()
            ),
        );
        self.cseq += 1;
        again
            .headers
            .set("CSeq", format!("{} {}", self.cseq, req.method.as_str()));
        again.headers.push(
            out,
            draft.replace("00000000000000000000000000000000", &response),
        );
        again
    }

    /// A REGISTER for this phone's contact.
    pub fn register(&mut self, expires: u32) -> Request {
        let call_id = format!("reg-{}-{}", self.user, self.addr.port());
        let aor = format!("<sip:{}@{PBX}>", self.user);
        let from = self.me("regtag");
        let mut r = self.request(
            Method::Register,
            &format!("sip:{PBX}"),
            &call_id,
            &from,
            &aor,
        );
        r.headers.push("Expires", expires.to_string());
        r
    }

    /// A response to a request the PBX sent us; `tag` is our To tag (dialog).
    pub fn answer(&self, req: &Request, status: u16, tag: &str, sdp: Option<&str>) -> Response {
        let mut r = Response::for_request(req, status, Response::reason_phrase(status));
        if status > 100 {
            let mut to: NameAddr = req.headers.get("To").unwrap().parse().unwrap();
            to.set_tag(tag);
            r.headers.set("To", to.to_string());
            r.headers
                .push("Contact", format!("<{}>", self.contact_uri()));
        }
        if let Some(sdp) = sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = sdp.as_bytes().to_vec();
        }
        r
    }
}

/// The URI of a Contact (or any name-addr) header value: `<sip:...>;params`.
fn uri_of(header: &str) -> String {
    let h = header.trim();
    let inner = h.strip_prefix('<').and_then(|r| r.split('>').next());
    inner.unwrap_or(h).to_string()
}

/// An audio offer from `rtp`: PCMU and PCMA, telephone-events.
pub fn sdp_offer(rtp: SocketAddr) -> String {
    sdp_with(rtp, "sendrecv")
}

pub fn sdp_with(rtp: SocketAddr, direction: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na={direction}\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

/// The remote address a media op set for `side`, if the ops hold one.
pub fn remote_set(ops: &[(BridgeId, MediaOp)], side: Side) -> Option<SocketAddr> {
    ops.iter().rev().find_map(|(_, op)| match op {
        MediaOp::SetRemote { side: s, rtp, .. } if *s == side => Some(*rtp),
        _ => None,
    })
}

/// A call from the trunk ringing `number`'s one phone (Bob): the carrier's INVITE
/// is in, the dialplan asked for the Dial, Bob got our INVITE.
pub struct Ringing {
    pub call: CallId,
    pub carrier: Phone,
    pub invite: Request,
    pub bob: Phone,
    pub to_bob: Request,
}

pub fn ringing_call(net: &mut Net, number: &str) -> Ringing {
    let bob = Phone::new(number, "127.0.0.2:5062");
    net.register(&bob);
    let mut carrier = Phone::new("0123", "127.0.0.9:5060");
    let (call, invite) = net.trunk_call(&mut carrier, number);
    let to_bob = net.requests_to(&bob).remove(0);
    Ringing {
        call,
        carrier,
        invite,
        bob,
        to_bob,
    }
}

/// An answered call from the trunk to 102, everything polled away.
pub struct Answered {
    pub call: CallId,
    pub carrier: Phone,
    /// The carrier's INVITE and our 200 to it.
    pub invite: Request,
    pub ok: Response,
    pub bob: Phone,
    /// Our INVITE to Bob, and Bob's To tag.
    pub to_bob: Request,
    pub bob_tag: String,
}

pub fn answered_call(net: &mut Net) -> Answered {
    let Ringing {
        call,
        mut carrier,
        invite,
        bob,
        to_bob,
    } = ringing_call(net, "102");
    net.deliver(
        &bob,
        bob.answer(&to_bob, 200, "bobtag", Some(&sdp_offer(bob.rtp))),
    );
    let ok = net
        .responses_to(&carrier)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("the caller got its 200");
    let ack = carrier.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&carrier, ack);
    net.out.clear();
    Answered {
        call,
        carrier,
        invite,
        ok,
        bob,
        to_bob,
        bob_tag: "bobtag".into(),
    }
}

/// A call an extension placed and the PBX answered itself (a supervisor in
/// ChanSpy); everything polled away.
pub struct ExtCall {
    pub call: CallId,
    pub channel: String,
    pub phone: Phone,
    pub invite: Request,
    pub ok: Response,
}

/// Extension `phone` (secret `pw<user>`) calls `to` with its digest; the call's
/// task is spawned and has asked nothing yet.
pub fn ext_invite(net: &mut Net, phone: &mut Phone, to: &str) -> (CallId, String, Request) {
    let invite = phone.invite(to, Some(&sdp_offer(phone.rtp)));
    net.deliver(phone, invite.clone());
    let challenge = net.responses_to(phone).pop().expect("a challenge");
    assert_eq!(challenge.status, 407);
    let again = phone.authorized(&invite, &challenge, &format!("pw{}", phone.user));
    net.deliver(phone, again.clone());
    let spawn = net.spawned().pop().expect("a dialplan task");
    (spawn.call, spawn.channel, again)
}

/// Supervisor `user` at `addr` dials ChanSpy (`*222`) and its dialplan answers.
pub fn supervisor_call_of(net: &mut Net, user: &str, addr: &str) -> ExtCall {
    let mut phone = Phone::new(user, addr);
    let (call, channel, invite) = ext_invite(net, &mut phone, "*222");
    net.chan(call, ChanOp::Answer);
    assert_eq!(net.chan_events(call), [ChanEvent::AnswerDone(true)]);
    let ok = net
        .responses_to(&phone)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("the supervisor's call is answered");
    let ack = phone.in_dialog(Method::Ack, &invite, &ok);
    net.deliver(&phone, ack);
    net.out.clear();
    ExtCall {
        call,
        channel,
        phone,
        invite,
        ok,
    }
}

/// Supervisor 201's call `sup` takes `target`'s call over: the answer to its task.
pub fn take_over(net: &mut Net, sup: &ExtCall, target: &str) -> Vec<ChanEvent> {
    net.chan(
        sup.call,
        ChanOp::TakeOver {
            supervisor: "201".into(),
            channel: sup.channel.clone(),
            target: target.to_string(),
        },
    );
    net.chan_events(sup.call)
}

/// The name of a live channel of `endpoint`.
pub fn channel_of(net: &Net, endpoint: &str) -> String {
    net.sw
        .channels()
        .find(|c| c.endpoint == endpoint)
        .unwrap_or_else(|| panic!("a live channel of {endpoint}"))
        .name
        .clone()
}
