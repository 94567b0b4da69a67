//! A scripted host: records what it was asked to run, answers from a queue,
//! and keeps an in-memory AstDB.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use dialplan::{AppOutcome, ChannelVars, Dialplan, Globals, Host, Interpreter, LoadOptions};

#[derive(Default)]
pub struct MockHost {
    /// (app, substituted args) for every host application run.
    pub calls: Vec<(String, String)>,
    /// Outcomes for apps by lower-case name, consumed in order; Continue when empty.
    pub script: BTreeMap<String, VecDeque<AppOutcome>>,
    pub db: BTreeMap<(String, String), String>,
    /// Variables of the channels Dial created (what the callee inherits).
    pub dialled: Vec<ChannelVars>,
}

impl MockHost {
    pub fn answer(mut self, app: &str, outcomes: &[AppOutcome]) -> Self {
        self.script
            .entry(app.to_ascii_lowercase())
            .or_default()
            .extend(outcomes.iter().cloned());
        self
    }

    pub fn apps(&self) -> Vec<String> {
        self.calls.iter().map(|(a, _)| a.clone()).collect()
    }

    pub fn put(&mut self, f: &str, k: &str, v: &str) {
        self.db.insert((f.into(), k.into()), v.into());
    }
}

impl Host for MockHost {
    async fn exec(&mut self, app: &str, args: &str, chan: &mut ChannelVars) -> AppOutcome {
        self.calls.push((app.to_string(), args.to_string()));
        if app.eq_ignore_ascii_case("dial") {
            self.dialled.push(chan.child("SIP/callee-1", "2"));
            chan.set("DIALSTATUS", "ANSWER");
        }
        if app.eq_ignore_ascii_case("agi") {
            return AppOutcome::Fail("application AGI is not available in spygroup".into());
        }
        self.script
            .get_mut(&app.to_ascii_lowercase())
            .and_then(VecDeque::pop_front)
            .unwrap_or(AppOutcome::Continue)
    }

    async fn db_get(&mut self, family: &str, key: &str) -> Option<String> {
        self.db.get(&(family.into(), key.into())).cloned()
    }

    async fn db_put(&mut self, family: &str, key: &str, value: &str) -> bool {
        self.db.insert((family.into(), key.into()), value.into());
        true
    }

    async fn db_del(&mut self, family: &str, key: &str) -> bool {
        self.db.remove(&(family.into(), key.into())).is_some()
    }

    async fn db_deltree(&mut self, family: &str) -> usize {
        let before = self.db.len();
        self.db
            .retain(|(f, _), _| f != family && !f.starts_with(&format!("{family}/")));
        before - self.db.len()
    }
}

pub fn plan(text: &str) -> Arc<Dialplan> {
    let (plan, _) = Dialplan::parse_str("test.conf", text, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("load failed: {:?}", e.diagnostics));
    Arc::new(plan)
}

pub fn interp(plan: &Arc<Dialplan>, caller: &str) -> Interpreter {
    let mut chan = ChannelVars::new(format!("SIP/{caller}-00000001"), "1700000000.1");
    chan.caller.num = caller.to_string();
    Interpreter::new(plan.clone(), Globals::from_pairs(plan.globals()), chan)
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Where the fixtures and the shipped config live, from this crate.
pub fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}
