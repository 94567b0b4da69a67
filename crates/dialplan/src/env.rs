//! What substitution and the dialplan functions work on: the host, the channel's
//! variables, the globals, where the call is, and the notes they leave; and how a
//! variable name resolves. Substitution calls the functions, and the functions read
//! variables, so this lives apart from both and neither reaches back into the other.

use crate::host::Host;
use crate::vars::{ChannelVars, Globals, Location};

/// Everything a substitution can read or change.
pub struct Env<'a, H: Host> {
    pub host: &'a mut H,
    pub chan: &'a mut ChannelVars,
    pub globals: &'a Globals,
    pub loc: &'a Location,
    /// Warnings met while substituting (unknown function, expression error...).
    pub notes: &'a mut Vec<String>,
}

/// A variable's value: built-ins, then the channel's variables, then globals.
pub fn lookup(chan: &ChannelVars, globals: &Globals, loc: &Location, name: &str) -> Option<String> {
    match name {
        "EXTEN" => return Some(loc.exten.clone()),
        "CONTEXT" => return Some(loc.context.clone()),
        "PRIORITY" => return Some(loc.priority.to_string()),
        "CHANNEL" => return Some(chan.channel.clone()),
        "UNIQUEID" => return Some(chan.uniqueid.clone()),
        "EPOCH" => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            return Some(secs.to_string());
        }
        _ => {}
    }
    chan.get(name)
        .map(str::to_string)
        .or_else(|| globals.get(name))
}
