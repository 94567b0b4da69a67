//! The seam between the interpreter and the PBX: the host runs every
//! application that touches media or signalling, and owns the database.

use std::future::Future;

use crate::vars::ChannelVars;

/// What happened when the host ran an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppOutcome {
    /// Go on with the next priority.
    Continue,
    /// The caller hung up, or the application ends the call (Hangup, Busy...).
    Hangup,
    /// Digits typed during Background/WaitExten: go to that extension in the
    /// current context if it exists, else to `i`.
    Digits(String),
    /// WaitExten timed out: go to `t`.
    Timeout,
    /// Something outside the dialplan moved the channel (a blind transfer: the
    /// transferer's phone sent a REFER): go on at `exten`, priority 1, in `context`,
    /// as Asterisk's async goto does.
    Goto { context: String, exten: String },
    /// The application could not run (unknown application such as AGI, bad
    /// arguments): the call ends with this reason logged.
    Fail(String),
}

/// What the interpreter needs from the PBX. Futures are `Send` so a call's
/// interpreter can run on a multi-threaded runtime.
pub trait Host: Send {
    /// Runs `app` with `args` already substituted. The host may read and set
    /// channel variables (Read sets one, Dial sets DIALSTATUS and gives the new
    /// channel `chan.inherited()`).
    fn exec(
        &mut self,
        app: &str,
        args: &str,
        chan: &mut ChannelVars,
    ) -> impl Future<Output = AppOutcome> + Send;

    /// AstDB read of `family/key`.
    fn db_get(&mut self, family: &str, key: &str) -> impl Future<Output = Option<String>> + Send;

    /// AstDB write; false when the store refused it.
    fn db_put(&mut self, family: &str, key: &str, value: &str)
        -> impl Future<Output = bool> + Send;

    /// AstDB delete; false when the key did not exist.
    fn db_del(&mut self, family: &str, key: &str) -> impl Future<Output = bool> + Send;

    /// Deletes every key under `family` (which may itself contain `/`);
    /// returns how many went.
    fn db_deltree(&mut self, family: &str) -> impl Future<Output = usize> + Send;

    /// A dialplan function the host provides (`QUEUE_WAITING_COUNT()` ...), read
    /// with its arguments substituted; None when the host has no such function.
    fn function(
        &mut self,
        _name: &str,
        _args: &str,
    ) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }
}
