//! A running API on 127.0.0.1 over a fresh SQLite store and a fake switch, and a
//! minimal HTTP/1.1 client.

#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use api::{ApiState, LiveChannel, LiveView};
use serde_json::{json, Value};
use store::{Grant, GroupScope, NewExtension, SpyMode, Store, TokenScope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, oneshot};

/// The switch as a test scripts it.
pub struct FakeLive {
    pub channels: Mutex<Vec<LiveChannel>>,
    pub tx: broadcast::Sender<Arc<Value>>,
    /// Events sent between `subscribe` and its return, to make a subscriber lag.
    pub prelag: Mutex<Vec<Arc<Value>>>,
    /// Conference rooms, and the members kicked so far (room, channel).
    pub rooms: Mutex<Vec<model::ConfRoom>>,
    pub kicked: Mutex<Vec<(String, String)>>,
    /// Locks in force, and the lifts asked for (id, by).
    pub lockouts: Mutex<Vec<model::Lockout>>,
    pub lifted: Mutex<Vec<(String, String)>>,
    /// Queue log lines the API announced.
    pub queue_logged: Mutex<Vec<model::QueueLogEntry>>,
    /// Console sign-ins asked for (extension, source).
    pub sign_ins: Mutex<Vec<(String, std::net::IpAddr)>>,
}

impl FakeLive {
    pub fn new(capacity: usize) -> Arc<FakeLive> {
        Arc::new(FakeLive {
            channels: Mutex::new(Vec::new()),
            tx: broadcast::channel(capacity).0,
            prelag: Mutex::new(Vec::new()),
            rooms: Mutex::new(Vec::new()),
            kicked: Mutex::new(Vec::new()),
            lockouts: Mutex::new(Vec::new()),
            lifted: Mutex::new(Vec::new()),
            queue_logged: Mutex::new(Vec::new()),
            sign_ins: Mutex::new(Vec::new()),
        })
    }
}

impl LiveView for FakeLive {
    fn channels(&self) -> Vec<LiveChannel> {
        self.channels.lock().unwrap().clone()
    }

    fn queue_logged(&self, lines: &[model::QueueLogEntry]) {
        self.queue_logged.lock().unwrap().extend_from_slice(lines);
    }

    fn conferences(&self) -> Vec<model::ConfRoom> {
        self.rooms.lock().unwrap().clone()
    }

    fn conference_change(
        &self,
        room: &str,
        channel: &str,
        change: &model::ConfChange,
    ) -> Result<(), api::ConfRefused> {
        let mut rooms = self.rooms.lock().unwrap();
        let m = rooms
            .iter_mut()
            .filter(|r| r.name == room)
            .flat_map(|r| r.members.iter_mut())
            .find(|m| m.channel == channel)
            .ok_or_else(|| {
                api::ConfRefused::NotFound(format!("channel {channel:?} is not in {room:?}"))
            })?;
        if let Some(v) = change.talk_volume {
            if !(-4..=4).contains(&v) {
                return Err(api::ConfRefused::Bad("talk_volume", "-4 to 4".into()));
            }
            m.talk_volume = v;
        }
        if let Some(muted) = change.muted {
            m.muted = muted;
        }
        Ok(())
    }

    fn conference_kick(&self, room: &str, channel: &str) -> Result<(), String> {
        let known = self
            .rooms
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.name == room && r.members.iter().any(|m| m.channel == channel));
        if !known {
            return Err(format!("channel {channel:?} is not in conference {room:?}"));
        }
        self.kicked
            .lock()
            .unwrap()
            .push((room.to_string(), channel.to_string()));
        Ok(())
    }

    /// 201/s201 (a supervisor) and 202/s202 (not one) check out.
    fn sign_in(
        &self,
        extension: &str,
        secret: &str,
        source: std::net::IpAddr,
    ) -> api::Answer<Option<api::SignedIn>> {
        self.sign_ins
            .lock()
            .unwrap()
            .push((extension.to_string(), source));
        let user = match (extension, secret) {
            ("201", "s201") => Some((true, Some("Supervisor".to_string()))),
            ("202", "s202") => Some((false, None)),
            _ => None,
        }
        .map(|(supervisor, name)| api::SignedIn {
            extension: extension.to_string(),
            name,
            supervisor,
        });
        Box::pin(async move { Ok(user) })
    }

    fn lockouts(&self) -> api::Answer<Vec<model::Lockout>> {
        let all = self.lockouts.lock().unwrap().clone();
        Box::pin(async move { Ok(all) })
    }

    fn lift_lockout(&self, id: &str, by: &str) -> api::Answer<bool> {
        let mut locks = self.lockouts.lock().unwrap();
        let before = locks.len();
        locks.retain(|l| l.id != id);
        let lifted = locks.len() < before;
        if lifted {
            self.lifted
                .lock()
                .unwrap()
                .push((id.to_string(), by.to_string()));
        }
        Box::pin(async move { Ok(lifted) })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Value>> {
        let rx = self.tx.subscribe();
        for ev in self.prelag.lock().unwrap().drain(..) {
            let _ = self.tx.send(ev);
        }
        rx
    }
}

/// An event as the switch numbers them.
pub fn event(seq: u64, kind: &str) -> Arc<Value> {
    Arc::new(json!({ "seq": seq, "at": 1_700_000_000_000u64 + seq, "type": kind }))
}

pub struct Server {
    pub addr: SocketAddr,
    pub store: Store,
    pub live: Arc<FakeLive>,
    pub reloads: Arc<AtomicUsize>,
    /// Tokens: admin, read, and supervise for supervisor 201.
    pub admin: String,
    pub read: String,
    pub sup201: String,
    /// The server's recordings folder (empty at the start).
    pub recordings: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), api::ApiError>>>,
    _dir: Option<tempfile::TempDir>,
    _recordings_dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(FakeLive::new(64)).await
    }

    pub async fn start_with(live: Arc<FakeLive>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/api.db", dir.path().display());
        let mut s = Server::start_on(&url, live).await;
        s._dir = Some(dir);
        s
    }

    /// A server over the database at `url` (which must be empty).
    pub async fn start_on(url: &str, live: Arc<FakeLive>) -> Server {
        let store = Store::open(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        let admin = store.token_create(TokenScope::Admin, None).await.unwrap().1;
        let read = store.token_create(TokenScope::Read, None).await.unwrap().1;
        store
            .add_extension(&NewExtension {
                number: "201".into(),
                secret: "s201".into(),
                name: Some("Supervisor".into()),
                context: None,
                ..Default::default()
            })
            .await
            .unwrap();
        store
            .supervisor_grant(&Grant {
                extension: "201".into(),
                groups: GroupScope::All,
                modes: vec![SpyMode::Listen],
                queues: vec![],
            })
            .await
            .unwrap();
        let sup201 = store
            .token_create(TokenScope::Supervise, Some("201"))
            .await
            .unwrap()
            .1;

        let reloads = Arc::new(AtomicUsize::new(0));
        let counter = reloads.clone();
        let recordings_dir = tempfile::tempdir().unwrap();
        let recordings = recordings_dir.path().join("recordings");
        std::fs::create_dir(&recordings).unwrap();
        let mut state = ApiState::new(Arc::new(|| json!({ "calls": 0 })));
        state.store = Some(store.clone());
        state.live = Some(live.clone());
        state.recordings = Some(recordings.clone());
        state.reload = Some(Arc::new(move || {
            let c = counter.clone();
            Box::pin(async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(2)
            })
        }));
        let bound = api::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = bound.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve_with(state, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            store,
            live,
            reloads,
            admin,
            read,
            sup201,
            recordings,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
            _recordings_dir: recordings_dir,
        }
    }

    /// A request with an optional bearer token and JSON body text.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Resp {
        request(self.addr, method, path, token, body).await
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| b.to_string());
        self.call(method, path, Some(&self.admin), body.as_deref())
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, Some(&self.read), None).await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// An answer: status, lower-cased head, body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

impl Resp {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        &self.body
    }

    /// Asserts a JSON error with this status naming `field`.
    #[track_caller]
    pub fn expect_field(&self, status: u16, field: &str) {
        self.expect(status);
        assert_eq!(self.body["field"], field, "{}", self.body);
        assert!(self.body["error"].is_string(), "{}", self.body);
    }
}

/// An answer whose body is not JSON (a download): status, lower-cased head, bytes.
#[derive(Debug)]
pub struct RawResp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// A GET with a bearer token, the answer's body kept as bytes.
pub async fn get_raw(addr: SocketAddr, path: &str, token: &str) -> RawResp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = String::from_utf8(buf[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    RawResp {
        status,
        head: head.to_ascii_lowercase(),
        body: buf[split + 4..].to_vec(),
    }
}

pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Resp {
    let auth = token.map(|t| format!("Authorization: Bearer {t}"));
    request_with(addr, method, path, auth.as_slice(), body).await
}

/// A request with these extra header lines (`Name: value`) and JSON body text.
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<&str>,
) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let head = head.to_ascii_lowercase();
    let body = if body.is_empty() {
        Value::Null
    } else {
        assert!(
            head.contains("content-type: application/json"),
            "{head}\n{body}"
        );
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    };
    Resp { status, head, body }
}

/// Runs `body` against a fresh server on SQLite and, when `SPYGROUP_TEST_POSTGRES_URL`
/// is set, on a fresh PostgreSQL database too; a failure names the backend.
pub async fn each_backend<F, Fut>(body: F)
where
    F: Fn(Server) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let mut targets = vec![(
        "sqlite",
        format!("sqlite://{}/api.db", dir.path().display()),
        None,
    )];
    match store::testing::scratch_postgres("spygroup_api").await {
        Some(pg) => targets.push(("postgres", pg.url.clone(), Some(pg))),
        None => eprintln!(
            "note: SPYGROUP_TEST_POSTGRES_URL is not set, so this test ran on SQLite only"
        ),
    }
    for (name, url, pg) in targets {
        let server = Server::start_on(&url, FakeLive::new(64)).await;
        let store = server.store.clone();
        let result = tokio::spawn(body(server)).await;
        store.close().await;
        if let Some(pg) = pg {
            pg.drop_db().await;
        }
        if let Err(e) = result {
            eprintln!("the test failed on {name}");
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            panic!("[{name}] {e}");
        }
    }
}
