//! The dialplan engine: Asterisk's `extensions.conf` language, parsed, checked
//! and interpreted, with no SIP or media in it. The PBX plugs in through
//! [`Host`]: it runs the applications that touch a call and owns the database,
//! while the [`Interpreter`] runs control flow, variables and functions.
//!
//! ```no_run
//! # async fn demo<H: dialplan::Host>(host: &mut H) -> Result<(), dialplan::LoadError> {
//! use std::sync::Arc;
//! let (plan, warnings) = dialplan::Dialplan::load("config/extensions.conf")?;
//! for w in &warnings { eprintln!("{w}"); }
//! let plan = Arc::new(plan);
//! let globals = dialplan::Globals::from_pairs(plan.globals());
//! let mut chan = dialplan::ChannelVars::new("SIP/110-00000001", "1700000000.1");
//! chan.caller.num = "110".into();
//! let mut call = dialplan::Interpreter::new(plan, globals, chan);
//! let end = call.run(host, "from-internal", "111", 1).await;
//! # let _ = end; Ok(()) }
//! ```

mod apps;
mod args;
mod check;
mod diag;
mod env;
mod expr;
mod funcs;
mod host;
mod interp;
mod model;
mod numbers;
mod options;
mod parse;
mod pattern;
mod show;
mod subst;
mod vars;

pub use apps::{same_app, DEFAULT_APPS, INTERPRETER_APPS};
pub use check::BUILTIN_MACROS;
pub use diag::{Diagnostic, LoadError, Origin, Severity};
pub use env::Env;
pub use expr::{evaluate as evaluate_expression, Evaluated};
pub use host::{AppOutcome, Host};
pub use interp::{Interpreter, Limits, RunEnd};
pub use model::{Context, Dialplan, Extension, Include, Priority};
pub use options::LoadOptions;
pub use pattern::Pattern;
pub use subst::{substitute, substring, MAX_SUBSTITUTED};
pub use vars::{CallerId, ChannelVars, Globals, Inherit, Location};
