//! Helpers shared by the fuzz targets: a dialplan host with an in-memory AstDB
//! whose futures are always ready, and an executor that polls them.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use dialplan::{AppOutcome, ChannelVars, Host};

/// Runs a future that never waits: everything the fuzz targets await ends in
/// [`FuzzHost`], which answers at once. A future that does wait is a bug in
/// the target, not in the code under test.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a dialplan future waited on something other than the host"),
    }
}

/// A host that runs every application at once and keeps a bounded AstDB, so an
/// input cannot make the harness itself grow without end.
#[derive(Default)]
pub struct FuzzHost {
    pub db: BTreeMap<(String, String), String>,
    pub apps_run: usize,
}

/// AstDB entries the fuzz host keeps; writes beyond are refused.
const MAX_DB_ENTRIES: usize = 64;

impl FuzzHost {
    pub fn with_data() -> FuzzHost {
        let mut h = FuzzHost::default();
        for (f, k, v) in [
            ("spygroup", "110", "sales"),
            ("spygroup/sales", "members", "110&111"),
            ("CF", "110", "0612345678"),
            ("DND", "111", "YES"),
        ] {
            h.db.insert((f.into(), k.into()), v.into());
        }
        h
    }
}

impl Host for FuzzHost {
    async fn exec(&mut self, app: &str, _args: &str, chan: &mut ChannelVars) -> AppOutcome {
        self.apps_run += 1;
        match app.to_ascii_lowercase().as_str() {
            "hangup" | "busy" | "congestion" => AppOutcome::Hangup,
            "dial" => {
                chan.set("DIALSTATUS", "NOANSWER");
                AppOutcome::Continue
            }
            "read" => {
                chan.set("READSTATUS", "OK");
                AppOutcome::Continue
            }
            "background" | "waitexten" => AppOutcome::Digits("110".into()),
            _ => AppOutcome::Continue,
        }
    }

    async fn db_get(&mut self, family: &str, key: &str) -> Option<String> {
        self.db.get(&(family.into(), key.into())).cloned()
    }

    async fn db_put(&mut self, family: &str, key: &str, value: &str) -> bool {
        let k = (family.to_string(), key.to_string());
        if self.db.len() >= MAX_DB_ENTRIES && !self.db.contains_key(&k) {
            return false;
        }
        self.db.insert(k, value.into());
        true
    }

    async fn db_del(&mut self, family: &str, key: &str) -> bool {
        self.db.remove(&(family.into(), key.into())).is_some()
    }

    async fn db_deltree(&mut self, family: &str) -> usize {
        let before = self.db.len();
        let sub = format!("{family}/");
        self.db
            .retain(|(f, _), _| f != family && !f.starts_with(&sub));
        before - self.db.len()
    }
}

/// A caller's channel with the variables the shipped dialplan reads.
pub fn channel() -> ChannelVars {
    let mut chan = ChannelVars::new("SIP/110-00000001", "1700000000.1");
    chan.caller.num = "110".into();
    chan.caller.name = "Agent 110".into();
    chan.set("__SPYGROUP", "sales");
    chan.set("DIALSTATUS", "ANSWER");
    chan.set("ARG1", "111");
    chan.set("A", "hello");
    chan.set("NUM", "0212345678");
    chan.set("PATH", "a-b-c-d");
    chan
}
