//! The event pump shared by the rumqttc v4 and v5 wrappers: a task polls the
//! rumqttc event loop and forwards what happens over a channel; the test side
//! waits for a packet matching a predicate within a deadline, keeping the
//! packets it skipped for later waits. The task stops at the first connection
//! error (so rumqttc never silently reconnects) and is aborted on drop, which
//! closes the socket without a DISCONNECT.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the polling task reports.
pub enum Pumped<P, E> {
    /// A packet from the broker.
    In(P),
    /// rumqttc wrote a PUBLISH with this packet id (0 for QoS 0).
    OutPublish(u16),
    /// rumqttc wrote a DISCONNECT.
    OutDisconnect,
    /// The event loop failed; the task has stopped.
    End(E),
}

/// The test side of a polling task.
pub struct Pump<P, E> {
    rx: UnboundedReceiver<Pumped<P, E>>,
    /// Packets received but not yet taken by a wait, oldest first.
    backlog: VecDeque<P>,
    /// Packet ids of the PUBLISHes written so far, in order.
    out_pkids: Vec<u16>,
    disconnect_sent: bool,
    end: Option<E>,
    task: JoinHandle<()>,
}

impl<P, E> Pump<P, E> {
    /// Wraps the receiving end of a channel fed by `task`.
    pub fn new(rx: UnboundedReceiver<Pumped<P, E>>, task: JoinHandle<()>) -> Self {
        Pump {
            rx,
            backlog: VecDeque::new(),
            out_pkids: Vec::new(),
            disconnect_sent: false,
            end: None,
            task,
        }
    }

    /// Receives one report before `deadline`; false on timeout or when the loop has ended.
    async fn pull(&mut self, deadline: Instant) -> bool {
        if self.end.is_some() {
            return false;
        }
        match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(Pumped::In(packet))) => {
                self.backlog.push_back(packet);
                true
            }
            Ok(Some(Pumped::OutPublish(pkid))) => {
                self.out_pkids.push(pkid);
                true
            }
            Ok(Some(Pumped::OutDisconnect)) => {
                self.disconnect_sent = true;
                true
            }
            Ok(Some(Pumped::End(error))) => {
                self.end = Some(error);
                false
            }
            Ok(None) | Err(_) => false,
        }
    }

    /// The first packet (backlog first, then new ones) for which `pick` returns
    /// `Some`, within `timeout`; skipped packets stay queued in order.
    pub async fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&P) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut checked = 0;
        loop {
            while checked < self.backlog.len() {
                if let Some(found) = pick(&self.backlog[checked]) {
                    self.backlog.remove(checked);
                    return Some(found);
                }
                checked += 1;
            }
            if !self.pull(deadline).await {
                return None;
            }
        }
    }

    /// The packet id of the `index`-th PUBLISH written (0-based), within `timeout`.
    pub async fn out_pkid(&mut self, index: usize, timeout: Duration) -> Option<u16> {
        let deadline = Instant::now() + timeout;
        while self.out_pkids.len() <= index {
            if !self.pull(deadline).await {
                return None;
            }
        }
        Some(self.out_pkids[index])
    }

    /// Waits up to `timeout` until rumqttc has written a DISCONNECT.
    pub async fn wait_disconnect_sent(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.disconnect_sent {
            if !self.pull(deadline).await {
                return false;
            }
        }
        true
    }

    /// The error that ended the event loop, if it has ended (taken once).
    pub fn take_end(&mut self) -> Option<E> {
        self.end.take()
    }

    /// Waits up to `timeout` for the event loop to end; its error if it did.
    pub async fn wait_end(&mut self, timeout: Duration) -> Option<&E> {
        let deadline = Instant::now() + timeout;
        while self.end.is_none() {
            if !self.pull(deadline).await && self.end.is_none() {
                return None;
            }
        }
        self.end.as_ref()
    }
}

impl<P, E: std::fmt::Display> Pump<P, E> {
    /// Why the event loop ended, for failure messages (waits up to 1 s for its report).
    pub async fn end_reason(&mut self) -> String {
        match self.wait_end(Duration::from_secs(1)).await {
            Some(error) => error.to_string(),
            None => "the event loop stopped without a report".to_string(),
        }
    }
}

impl<P, E> Drop for Pump<P, E> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards one report; false when the test side is gone.
pub fn forward<P, E>(tx: &UnboundedSender<Pumped<P, E>>, report: Pumped<P, E>) -> bool {
    tx.send(report).is_ok()
}
