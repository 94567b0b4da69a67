//! The dialplan the switch runs: loaded and checked from `extensions.conf`, replaced
//! whole on reload; calls in progress keep the one they started with.

use std::sync::Arc;

/// A loaded dialplan and its globals.
#[derive(Clone)]
pub struct LoadedPlan {
    pub plan: Arc<dialplan::Dialplan>,
    pub globals: dialplan::Globals,
}

impl std::fmt::Debug for LoadedPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlan").finish_non_exhaustive()
    }
}

impl LoadedPlan {
    /// Loads and checks a dialplan file: errors (with file:line) refuse it; warnings
    /// are logged and counted.
    pub fn load(path: &std::path::Path) -> Result<(LoadedPlan, usize), String> {
        // Told what the PBX runs, so its warnings are the engine's truth.
        match dialplan::Dialplan::load_with(path, &crate::apps::load_options()) {
            Ok((plan, diags)) => {
                for d in &diags {
                    tracing::warn!("{d}");
                }
                Ok((LoadedPlan::new(plan), diags.len()))
            }
            Err(e) => Err(e
                .diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }

    pub fn new(plan: dialplan::Dialplan) -> LoadedPlan {
        let globals = dialplan::Globals::from_pairs(plan.globals());
        LoadedPlan {
            plan: Arc::new(plan),
            globals,
        }
    }
}
