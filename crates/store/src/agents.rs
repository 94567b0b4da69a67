//! Membership changes made by the administrator (CLI and API): each one is
//! written with its queue log line (ADDMEMBER, REMOVEMEMBER, PAUSE, UNPAUSE) as
//! Asterisk writes it, so the statistics count pauses however they were made.
//! Each returns the lines it wrote, so a running server can announce them as
//! `queue.log` events; the switch picks the change itself up with its next
//! snapshot. Changes made by the dialplan go through the switch instead
//! (`Write::Queue*`).

use model::{QueueEvent, QueueLogEntry};

use crate::time::now_ms;
use crate::{Store, StoreError};

impl Store {
    async fn log_member(
        &self,
        queue: &str,
        extension: &str,
        event: QueueEvent,
        reason: &str,
    ) -> Result<QueueLogEntry, StoreError> {
        let line = QueueLogEntry {
            time_ms: now_ms(),
            call_id: "NONE".into(),
            queue: queue.to_string(),
            agent: format!("SIP/{extension}"),
            event,
            data: [
                reason.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        };
        self.queue_log_insert(&line).await?;
        Ok(line)
    }

    /// Adds a member (`dynamic`: an agent logging in) and logs ADDMEMBER; for
    /// one already there only its penalty changes, and nothing is logged.
    pub async fn member_join(
        &self,
        queue: &str,
        extension: &str,
        penalty: u32,
        dynamic: bool,
    ) -> Result<Option<QueueLogEntry>, StoreError> {
        if !self
            .queue_member_add(queue, extension, penalty, dynamic)
            .await?
        {
            return Ok(None);
        }
        let line = self
            .log_member(queue, extension, QueueEvent::Addmember, "")
            .await?;
        Ok(Some(line))
    }

    /// Removes a member of either kind and logs REMOVEMEMBER; NotFound when it
    /// is none.
    pub async fn member_remove(
        &self,
        queue: &str,
        extension: &str,
    ) -> Result<QueueLogEntry, StoreError> {
        self.queue_get(queue).await?;
        if !self.queue_member_remove(queue, extension).await? {
            return Err(not_member(queue, extension));
        }
        self.log_member(queue, extension, QueueEvent::Removemember, "")
            .await
    }

    /// An agent logs out of `queue`, or of every queue it logged in to (None).
    /// A static member cannot log out (NotDynamic); with no
    /// queue named, static memberships stay and only an agent who logged in to
    /// none gets NotFound. One REMOVEMEMBER line per queue left.
    pub async fn agent_logout(
        &self,
        extension: &str,
        queue: Option<&str>,
    ) -> Result<Vec<QueueLogEntry>, StoreError> {
        let members: Vec<_> = self
            .queue_list()
            .await?
            .into_iter()
            .filter(|(q, _)| queue.is_none_or(|n| n == q.name))
            .flat_map(|(_, m)| m)
            .filter(|m| m.extension == extension)
            .collect();
        if let Some(q) = queue {
            self.queue_get(q).await?;
            match members.first() {
                None => return Err(not_member(q, extension)),
                Some(m) if !m.dynamic => {
                    return Err(StoreError::NotDynamic {
                        queue: q.to_string(),
                        extension: extension.to_string(),
                    })
                }
                Some(_) => {}
            }
        }
        let mut left = Vec::new();
        for m in members.into_iter().filter(|m| m.dynamic) {
            if self.queue_member_remove(&m.queue, extension).await? {
                left.push(
                    self.log_member(&m.queue, extension, QueueEvent::Removemember, "")
                        .await?,
                );
            }
        }
        if left.is_empty() {
            return Err(StoreError::NotFound {
                what: "logged-in agent",
                key: extension.to_string(),
            });
        }
        Ok(left)
    }

    /// Pauses (with a reason) or unpauses a member in `queue`, or in every
    /// queue it is in (None), logging PAUSE or UNPAUSE per queue changed.
    /// NotFound when it is a member of none of them.
    pub async fn member_set_paused(
        &self,
        queue: Option<&str>,
        extension: &str,
        paused: bool,
        reason: &str,
    ) -> Result<Vec<QueueLogEntry>, StoreError> {
        if reason.chars().count() > 80 || reason.chars().any(char::is_control) {
            return Err(StoreError::Invalid {
                field: "reason",
                value: reason.to_string(),
                reason: "a pause reason is at most 80 characters, without control characters",
            });
        }
        if let Some(q) = queue {
            self.queue_get(q).await?;
        }
        let queues: Vec<String> = self
            .queues_of(extension)
            .await?
            .into_iter()
            .filter(|q| queue.is_none_or(|n| n == q))
            .collect();
        if queues.is_empty()
            || self
                .queue_member_pause(queue, extension, paused, reason)
                .await?
                == 0
        {
            return Err(match queue {
                Some(q) => not_member(q, extension),
                None => StoreError::NotFound {
                    what: "queue member",
                    key: extension.to_string(),
                },
            });
        }
        let event = if paused {
            QueueEvent::Pause
        } else {
            QueueEvent::Unpause
        };
        let reason = if paused { reason } else { "" };
        let mut lines = Vec::with_capacity(queues.len());
        for q in &queues {
            lines.push(self.log_member(q, extension, event, reason).await?);
        }
        Ok(lines)
    }
}

fn not_member(queue: &str, extension: &str) -> StoreError {
    StoreError::NotFound {
        what: "member",
        key: format!("{extension} of queue {queue}"),
    }
}
