//! A channel task: runs the caller's dialplan from its context and dialled
//! extension, then hangs the channel up (a failed Dial leaves its status for the
//! caller's final response: 486 busy, 408 no answer, ...).

use std::sync::Arc;

use dialplan::{ChannelVars, Globals, Interpreter, RunEnd};
use media::BridgeControl;

use super::Channel;
use crate::apps::{AppEnv, PbxHost};

pub async fn run_dialplan(chan: Channel, env: AppEnv, globals: Globals, media: BridgeControl) {
    let mut vars = ChannelVars::new(
        chan.name.clone(),
        format!("{}.{}", std::process::id(), chan.call),
    );
    vars.caller.num = chan.caller.number.clone();
    vars.caller.name = chan.caller.name.clone().unwrap_or_default();
    let context = chan.caller.context.clone();
    let exten = chan.dialled.clone();
    let name = chan.name.clone();
    let plan = Arc::clone(&env.plan);
    let mut host = PbxHost::new(chan, env, media);
    let mut interp = Interpreter::new(plan, globals, vars);
    let end = interp.run(&mut host, &context, &exten, 1).await;
    match &end {
        RunEnd::Hangup => tracing::debug!(channel = %name, "dialplan hung up"),
        RunEnd::FellOffEnd(loc) => {
            tracing::debug!(channel = %name, ?loc, "dialplan ran off its end")
        }
        RunEnd::Failed(why) => tracing::warn!(channel = %name, "dialplan failed: {why}"),
    }
    host.chan.hangup(None);
}
