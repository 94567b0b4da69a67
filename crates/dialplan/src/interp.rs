//! The interpreter: runs a call through the dialplan. It owns control flow
//! and variables (Set, Goto, Gosub, Macro...) and hands every application that
//! needs media or signalling to the [`Host`], arguments already substituted.

use std::sync::Arc;

use crate::args::{self, Target};
use crate::diag::{Diagnostic, Origin};
use crate::env::Env;
use crate::funcs;
use crate::host::{AppOutcome, Host};
use crate::model::{Dialplan, Priority};
use crate::numbers::truthy;
use crate::subst;
use crate::vars::{ChannelVars, Globals, Location};

/// Asterisk's default `maxmacrorecursion`-like guard: nested Macro calls.
const MAX_MACRO_DEPTH: usize = 7;
/// Nested Gosub calls before we assume runaway recursion.
const MAX_GOSUB_DEPTH: usize = 100;
/// Warnings one run keeps in [`Interpreter::diagnostics`] (errors are always kept).
const MAX_KEPT_WARNINGS: usize = 1000;

/// Guards against dialplans that loop without doing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Priorities one run may execute in total.
    pub max_steps: u64,
    /// Priorities in a row without a host application (a `Goto` loop never
    /// calls the host; an IVR loop plays prompts and resets this count).
    pub max_steps_without_host: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 100_000,
            max_steps_without_host: 1_000,
        }
    }
}

/// How a run ended. After any of these the `h` extension has already run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Hangup(), or the host reported the call over.
    Hangup,
    /// Ran off the end of an extension: Asterisk's autofallthrough hangs up.
    FellOffEnd(Location),
    /// The call failed; the reason says why (also in the diagnostics).
    Failed(String),
}

enum Flow {
    Next,
    Jump,
    End(RunEnd),
}

#[derive(Debug)]
enum FrameKind {
    Macro,
    Gosub,
}

/// A Macro or Gosub in progress: where to return and what to restore.
#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    ret: Location,
    saved: Vec<(String, Option<String>)>,
}

/// One call's interpreter.
pub struct Interpreter {
    plan: Arc<Dialplan>,
    globals: Globals,
    chan: ChannelVars,
    loc: Location,
    frames: Vec<Frame>,
    limits: Limits,
    diagnostics: Vec<Diagnostic>,
    origin: Origin,
}

impl Interpreter {
    pub fn new(plan: Arc<Dialplan>, globals: Globals, chan: ChannelVars) -> Self {
        Interpreter {
            plan,
            globals,
            chan,
            loc: Location::default(),
            frames: Vec::new(),
            limits: Limits::default(),
            diagnostics: Vec::new(),
            origin: Origin {
                file: Default::default(),
                line: 0,
            },
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn chan(&self) -> &ChannelVars {
        &self.chan
    }

    pub fn chan_mut(&mut self) -> &mut ChannelVars {
        &mut self.chan
    }

    pub fn into_chan(self) -> ChannelVars {
        self.chan
    }

    /// Where the call is (or ended).
    pub fn location(&self) -> &Location {
        &self.loc
    }

    /// Warnings and errors met while running, each with the dialplan line.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Runs the call from `context,exten,priority` until it ends, then runs the
    /// `h` extension of the calling context if there is one.
    pub async fn run<H: Host>(
        &mut self,
        host: &mut H,
        context: &str,
        exten: &str,
        priority: u32,
    ) -> RunEnd {
        self.loc = Location {
            context: context.to_string(),
            exten: exten.to_string(),
            priority,
        };
        self.frames.clear();
        let end = self.run_loop(host, false).await;
        if let RunEnd::Failed(reason) = &end {
            tracing::warn!(channel = %self.chan.channel, "call failed: {reason}");
        }
        let h_context = self
            .frames
            .first()
            .map(|f| f.ret.context.clone())
            .unwrap_or_else(|| self.loc.context.clone());
        if self.loc.exten != "h" && self.plan.exists(&h_context, "h") {
            self.frames.clear();
            self.loc = Location {
                context: h_context,
                exten: "h".into(),
                priority: 1,
            };
            let _ = self.run_loop(host, true).await;
        }
        end
    }

    async fn run_loop<H: Host>(&mut self, host: &mut H, in_h: bool) -> RunEnd {
        let (mut steps, mut idle) = (0u64, 0u64);
        loop {
            steps += 1;
            idle += 1;
            if steps > self.limits.max_steps || idle > self.limits.max_steps_without_host {
                let why = format!(
                    "stopped at {},{},{} after {} steps: the dialplan seems to loop \
                     (step limit {} total, {} without an application)",
                    self.loc.context,
                    self.loc.exten,
                    self.loc.priority,
                    steps - 1,
                    self.limits.max_steps,
                    self.limits.max_steps_without_host
                );
                self.note_error(why.clone());
                return RunEnd::Failed(why);
            }
            let found = self
                .plan
                .find(&self.loc.context, &self.loc.exten, self.loc.priority)
                .cloned();
            let Some(p) = found else {
                match self.missing(in_h) {
                    Some(end) => return end,
                    None => continue,
                }
            };
            self.origin = p.origin.clone();
            tracing::debug!(
                channel = %self.chan.channel,
                "executing [{}@{}:{}] {}({})",
                self.loc.exten, self.loc.context, self.loc.priority, p.app, p.args
            );
            let args = self.substitute(host, &p.args).await;
            let (flow, called_host) = self.exec(host, &p, args, in_h).await;
            if called_host {
                idle = 0;
            }
            match flow {
                Flow::Next => self.loc.priority = self.loc.priority.saturating_add(1),
                Flow::Jump => {}
                Flow::End(end) => return end,
            }
        }
    }

    /// The current location has no priority: return from a Macro, go to `i`
    /// for an extension that does not exist, or fall off the end.
    fn missing(&mut self, in_h: bool) -> Option<RunEnd> {
        if matches!(self.frames.last(), Some(f) if matches!(f.kind, FrameKind::Macro)) {
            self.pop_frame();
            return None;
        }
        let (ctx, exten) = (self.loc.context.clone(), self.loc.exten.clone());
        if in_h || self.plan.exists(&ctx, &exten) {
            return Some(RunEnd::FellOffEnd(self.loc.clone()));
        }
        if exten != "i" && self.plan.exists(&ctx, "i") {
            self.chan.set("INVALID_EXTEN", &exten);
            self.goto(&ctx, "i", 1);
            return None;
        }
        let why = if self.plan.context(&ctx).is_none() {
            format!("no context [{ctx}]")
        } else {
            format!("no extension {exten} in [{ctx}] and no 'i' extension to send it to")
        };
        self.note_error(why.clone());
        Some(RunEnd::Failed(why))
    }

    async fn substitute<H: Host>(&mut self, host: &mut H, text: &str) -> String {
        let mut notes = Vec::new();
        let out = {
            let mut env = Env {
                host,
                chan: &mut self.chan,
                globals: &self.globals,
                loc: &self.loc,
                notes: &mut notes,
            };
            subst::substitute(&mut env, text).await
        };
        for n in notes {
            self.note_warning(n);
        }
        out
    }

    fn note_warning(&mut self, message: String) {
        tracing::warn!(channel = %self.chan.channel, "{}: {message}", self.origin);
        // A loop that warns on every step would otherwise keep every warning for
        // the life of the call; the log has them all.
        if self.diagnostics.len() < MAX_KEPT_WARNINGS {
            self.diagnostics
                .push(Diagnostic::warning(&self.origin, message));
        }
    }

    fn note_error(&mut self, message: String) {
        self.diagnostics
            .push(Diagnostic::error(&self.origin, message));
    }

    fn goto(&mut self, context: &str, exten: &str, priority: u32) {
        self.loc = Location {
            context: context.to_string(),
            exten: exten.to_string(),
            priority,
        };
    }

    /// Runs one application. The bool says whether the host was called.
    async fn exec<H: Host>(
        &mut self,
        host: &mut H,
        p: &Priority,
        args: String,
        in_h: bool,
    ) -> (Flow, bool) {
        let mut app = p.app.clone();
        let mut args = args;
        // ExecIf chooses another application; a loop rather than recursion.
        loop {
            let flow = match app.to_ascii_lowercase().as_str() {
                "execif" => {
                    let (cond, t, f) = args::split_condition(&args);
                    let chosen = if truthy(cond) { t } else { f };
                    if chosen.trim().is_empty() {
                        return (Flow::Next, false);
                    }
                    let (a, rest) = match chosen.find('(') {
                        Some(i) => (
                            chosen[..i].trim().to_string(),
                            chosen[i + 1..]
                                .strip_suffix(')')
                                .unwrap_or(&chosen[i + 1..])
                                .to_string(),
                        ),
                        None => (chosen.trim().to_string(), String::new()),
                    };
                    app = a;
                    args = rest;
                    continue;
                }
                "set" => self.app_set(host, &args).await,
                "mset" => {
                    for pair in args::separate(&args, ',') {
                        match pair.split_once('=') {
                            Some((k, v)) => self.chan.set(k.trim(), v),
                            None => self.note_warning(format!("MSet: {pair:?} is not NAME=value")),
                        }
                    }
                    Flow::Next
                }
                "noop" => {
                    tracing::debug!(channel = %self.chan.channel, "NoOp({args})");
                    Flow::Next
                }
                "verbose" => {
                    let msg = match args.split_once(',') {
                        Some((lvl, m)) if lvl.trim().parse::<u32>().is_ok() => m,
                        _ => args.as_str(),
                    };
                    tracing::info!(channel = %self.chan.channel, "{msg}");
                    Flow::Next
                }
                "log" => {
                    let (level, msg) = args.split_once(',').unwrap_or(("NOTICE", &args));
                    match level.trim().to_ascii_uppercase().as_str() {
                        "ERROR" => tracing::error!(channel = %self.chan.channel, "{msg}"),
                        "WARNING" => tracing::warn!(channel = %self.chan.channel, "{msg}"),
                        "DEBUG" => tracing::debug!(channel = %self.chan.channel, "{msg}"),
                        _ => tracing::info!(channel = %self.chan.channel, "{msg}"),
                    }
                    Flow::Next
                }
                "goto" => self.app_goto(&args),
                "gotoif" => {
                    let (cond, t, f) = args::split_condition(&args);
                    let branch = if truthy(cond) { t } else { f };
                    if branch.trim().is_empty() {
                        Flow::Next
                    } else {
                        self.app_goto(branch)
                    }
                }
                "gosub" => self.app_gosub(&args),
                "gosubif" => {
                    let (cond, t, f) = args::split_condition(&args);
                    let branch = if truthy(cond) { t } else { f };
                    if branch.trim().is_empty() {
                        Flow::Next
                    } else {
                        self.app_gosub(branch)
                    }
                }
                "return" => self.app_return(&args),
                "macro" => self.app_macro(&args),
                "macroexit" => {
                    if self
                        .frames
                        .iter()
                        .any(|f| matches!(f.kind, FrameKind::Macro))
                    {
                        while let Some(f) = self.frames.last() {
                            let is_macro = matches!(f.kind, FrameKind::Macro);
                            self.pop_frame();
                            if is_macro {
                                break;
                            }
                        }
                        Flow::Jump
                    } else {
                        self.fail("MacroExit outside a Macro".into())
                    }
                }
                "dbdel" => {
                    match split_db(&args) {
                        Some((f, k)) => {
                            if !host.db_del(f, k).await {
                                tracing::debug!("DBdel({args}): no such key");
                            }
                        }
                        None => {
                            self.note_warning(format!("DBdel({args}): write DBdel(family/key)"))
                        }
                    }
                    Flow::Next
                }
                "dbdeltree" => {
                    let family = args.trim().trim_matches('/');
                    if family.is_empty() {
                        self.note_warning("DBdeltree needs a family".into());
                    } else {
                        host.db_deltree(family).await;
                    }
                    Flow::Next
                }
                _ => {
                    self.chan.location = self.loc.clone();
                    let outcome = host.exec(&app, &args, &mut self.chan).await;
                    let flow = if app.eq_ignore_ascii_case("hangup") {
                        Flow::End(RunEnd::Hangup)
                    } else {
                        self.outcome(outcome, in_h)
                    };
                    return (flow, true);
                }
            };
            return (flow, false);
        }
    }

    fn fail(&mut self, why: String) -> Flow {
        self.note_error(why.clone());
        Flow::End(RunEnd::Failed(why))
    }

    fn outcome(&mut self, outcome: AppOutcome, in_h: bool) -> Flow {
        match outcome {
            AppOutcome::Continue => Flow::Next,
            AppOutcome::Hangup => Flow::End(RunEnd::Hangup),
            AppOutcome::Fail(why) => self.fail(why),
            _ if in_h => Flow::Next,
            AppOutcome::Digits(d) => {
                let ctx = self.loc.context.clone();
                if self.plan.exists(&ctx, &d) {
                    self.goto(&ctx, &d, 1);
                    Flow::Jump
                } else if self.plan.exists(&ctx, "i") {
                    self.chan.set("INVALID_EXTEN", &d);
                    self.goto(&ctx, "i", 1);
                    Flow::Jump
                } else {
                    self.fail(format!(
                        "caller dialled {d}: no such extension in [{ctx}] and no 'i' extension"
                    ))
                }
            }
            AppOutcome::Goto { context, exten } => {
                if self.plan.exists(&context, &exten) {
                    // Out of any Macro or Gosub: the channel is somewhere else now.
                    self.frames.clear();
                    self.goto(&context, &exten, 1);
                    Flow::Jump
                } else {
                    self.fail(format!("moved to {exten}@{context}: no such extension"))
                }
            }
            AppOutcome::Timeout => {
                let ctx = self.loc.context.clone();
                if self.plan.exists(&ctx, "t") {
                    self.goto(&ctx, "t", 1);
                    Flow::Jump
                } else {
                    tracing::info!(channel = %self.chan.channel, "timeout and no 't' in [{ctx}]: hanging up");
                    Flow::End(RunEnd::Hangup)
                }
            }
        }
    }

    async fn app_set<H: Host>(&mut self, host: &mut H, args: &str) -> Flow {
        let Some((name, value)) = args.split_once('=') else {
            self.note_warning(format!("Set({args}): write Set(NAME=value)"));
            return Flow::Next;
        };
        let name = name.trim();
        match subst::split_function(name) {
            Some((func, fargs)) => {
                let mut notes = Vec::new();
                let result = {
                    let mut env = Env {
                        host,
                        chan: &mut self.chan,
                        globals: &self.globals,
                        loc: &self.loc,
                        notes: &mut notes,
                    };
                    funcs::write(&mut env, func, fargs, value).await
                };
                for n in notes {
                    self.note_warning(n);
                }
                if let Err(e) = result {
                    self.note_warning(e);
                }
            }
            None => self.chan.set(name, value),
        }
        Flow::Next
    }

    /// Resolves a `[[context,]exten,]priority` target against the current location.
    fn resolve(&self, spec: &str) -> Result<Location, String> {
        let t = Target::parse(spec)
            .ok_or_else(|| format!("{spec:?} is not a [[context,]extension,]priority target"))?;
        let context = t.context.unwrap_or_else(|| self.loc.context.clone());
        let exten = t.exten.unwrap_or_else(|| self.loc.exten.clone());
        let priority = match t.priority.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => self
                .plan
                .find_label(&context, &exten, &t.priority)
                .map(|p| p.number)
                .ok_or_else(|| {
                    format!(
                        "priority {:?} is neither a number nor a label of {exten} in [{context}]",
                        t.priority
                    )
                })?,
        };
        Ok(Location {
            context,
            exten,
            priority,
        })
    }

    fn app_goto(&mut self, spec: &str) -> Flow {
        match self.resolve(spec) {
            Ok(loc) => {
                self.loc = loc;
                Flow::Jump
            }
            Err(e) => self.fail(format!("Goto({spec}): {e}")),
        }
    }

    fn app_gosub(&mut self, spec: &str) -> Flow {
        if self.frames.len() >= MAX_GOSUB_DEPTH {
            return self.fail(format!(
                "Gosub({spec}): more than {MAX_GOSUB_DEPTH} nested calls"
            ));
        }
        let (target, sub_args) = match spec.find('(') {
            Some(i) => {
                let inner = &spec[i + 1..];
                (
                    &spec[..i],
                    args::separate_raw(inner.strip_suffix(')').unwrap_or(inner), ','),
                )
            }
            None => (spec, Vec::new()),
        };
        let dest = match self.resolve(target) {
            Ok(l) => l,
            Err(e) => return self.fail(format!("Gosub({spec}): {e}")),
        };
        let mut ret = self.loc.clone();
        ret.priority = ret.priority.saturating_add(1);
        let saved = self.set_args(&sub_args, &[]);
        self.frames.push(Frame {
            kind: FrameKind::Gosub,
            ret,
            saved,
        });
        self.loc = dest;
        Flow::Jump
    }

    fn app_return(&mut self, value: &str) -> Flow {
        match self.frames.last() {
            Some(f) if matches!(f.kind, FrameKind::Gosub) => {
                self.pop_frame();
                self.chan.set("GOSUB_RETVAL", value);
                Flow::Jump
            }
            _ => self.fail("Return without Gosub".into()),
        }
    }

    fn app_macro(&mut self, args: &str) -> Flow {
        let mut parts = args::separate(args, ',');
        if parts.is_empty() {
            self.note_warning("Macro needs a macro name".into());
            return Flow::Next;
        }
        let name = parts.remove(0).trim().to_string();
        let context = format!("macro-{name}");
        if !self.plan.exists(&context, "s") {
            if name == "user-callerid" {
                self.builtin_user_callerid();
            } else {
                self.note_warning(format!(
                    "Macro({name}): no [{context}] with an 's' extension"
                ));
            }
            return Flow::Next;
        }
        let depth = self
            .frames
            .iter()
            .filter(|f| matches!(f.kind, FrameKind::Macro))
            .count();
        if depth >= MAX_MACRO_DEPTH {
            self.note_warning(format!(
                "Macro({name}): more than {MAX_MACRO_DEPTH} nested macros; skipped"
            ));
            return Flow::Next;
        }
        let prio = self.loc.priority.to_string();
        let macro_vars = [
            ("MACRO_EXTEN", self.loc.exten.clone()),
            ("MACRO_CONTEXT", self.loc.context.clone()),
            ("MACRO_PRIORITY", prio),
            ("MACRO_DEPTH", (depth + 1).to_string()),
        ];
        let saved = self.set_args(&parts, &macro_vars);
        let mut ret = self.loc.clone();
        ret.priority = ret.priority.saturating_add(1);
        self.frames.push(Frame {
            kind: FrameKind::Macro,
            ret,
            saved,
        });
        self.goto(&context, "s", 1);
        Flow::Jump
    }

    /// FreePBX's `macro-user-callerid`, reduced to what spygroup needs: the
    /// calling extension is the caller ID number (no device/user split).
    fn builtin_user_callerid(&mut self) {
        let num = self.chan.caller.num.clone();
        self.chan.set("AMPUSER", &num);
        self.chan.set("REALCALLERIDNUM", &num);
    }

    /// Sets ARG1..ARGn (clearing older ones) and `extra`, returning what to restore.
    fn set_args(
        &mut self,
        values: &[String],
        extra: &[(&str, String)],
    ) -> Vec<(String, Option<String>)> {
        let mut old_count = 0;
        while self.chan.get(&format!("ARG{}", old_count + 1)).is_some() {
            old_count += 1;
        }
        let mut saved = Vec::new();
        for i in 1..=values.len().max(old_count) {
            let name = format!("ARG{i}");
            saved.push((name.clone(), self.chan.get(&name).map(str::to_string)));
            self.chan
                .set(&name, values.get(i - 1).map_or("", String::as_str));
        }
        for (name, value) in extra {
            saved.push((name.to_string(), self.chan.get(name).map(str::to_string)));
            self.chan.set(name, value);
        }
        saved
    }

    fn pop_frame(&mut self) {
        if let Some(frame) = self.frames.pop() {
            for (name, value) in frame.saved {
                match value {
                    Some(v) => self.chan.set(&name, &v),
                    None => {
                        self.chan.remove(&name);
                    }
                }
            }
            self.loc = frame.ret;
        }
    }
}

fn split_db(args: &str) -> Option<(&str, &str)> {
    let (f, k) = args.trim().rsplit_once('/')?;
    let f = f.trim_start_matches('/');
    (!f.is_empty() && !k.is_empty()).then_some((f, k))
}
