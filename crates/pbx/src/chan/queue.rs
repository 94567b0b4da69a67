//! A channel's requests to the call-center floor: wait in a queue, change a
//! queue's members.

use std::time::Duration;

use model::QueueStatus;

use super::{ChanEvent, ChanOp, Channel};
use crate::queue::{MemberChange, MemberResult};

impl Channel {
    /// Joins the back of `queue`: the caller's position, or why it may not wait.
    /// What follows comes as events (`QueueAnnounce`, `QueueConnected`, ...).
    pub async fn queue_join(
        &mut self,
        queue: &str,
        timeout: Option<Duration>,
        no_retry: bool,
        vars: Vec<(String, String)>,
    ) -> Result<u32, QueueStatus> {
        self.send(ChanOp::QueueJoin {
            queue: queue.to_string(),
            timeout,
            no_retry,
            vars,
        });
        match self
            .wait_for(|e| matches!(e, ChanEvent::QueueJoined(_)))
            .await
        {
            Some(ChanEvent::QueueJoined(r)) => r,
            _ => Err(QueueStatus::Unknown),
        }
    }

    /// Adds, removes, pauses or unpauses a member; how it went.
    pub async fn queue_member(&mut self, change: MemberChange) -> MemberResult {
        self.send(ChanOp::QueueMember(change));
        match self
            .wait_for(|e| matches!(e, ChanEvent::QueueMemberDone(_)))
            .await
        {
            Some(ChanEvent::QueueMemberDone(r)) => r,
            _ => MemberResult::NoSuchQueue,
        }
    }
}
