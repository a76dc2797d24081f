//! What happens after a connection ends: its Will Message (at once, or after the 5.0
//! Will Delay Interval unless the client comes back [MQTT-3.1.3-9]) and its session
//! (ended at once, or after the Session Expiry Interval unless the client comes back).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::CoreMetrics;
use crate::protocol::{MqttStr, Will};
use crate::session::SessionRef;

use super::core::Core;
use super::handler::message_from_will;

/// Publishes or schedules the will of a connection that ended without a normal
/// DISCONNECT. `ours` is false when the session was taken over by a new connection.
pub fn settle(core: &Rc<Core>, session: &SessionRef, will: Will, client_id: MqttStr, ours: bool) {
    let delay = will.properties.will_delay_interval.unwrap_or(0);
    let still_same_session = core
        .sessions
        .borrow()
        .get(&client_id)
        .is_some_and(|s| Rc::ptr_eq(s, session));
    if !ours {
        // Taken over. With a will delay, the new connection to the same session
        // cancels the will; if the new connection started a clean session, the old
        // session has ended and the will goes now.
        if delay == 0 || !still_same_session {
            publish_will(core, will, client_id);
        }
        return;
    }
    let expiry = session.borrow().expiry_interval;
    let wait = delay.min(expiry);
    if wait == 0 {
        publish_will(core, will, client_id);
        return;
    }
    let generation = session.borrow().generation;
    let core = core.clone();
    let session = session.clone();
    glommio::spawn_local(async move {
        glommio::timer::sleep(Duration::from_secs(u64::from(wait))).await;
        let reconnected = {
            let s = session.borrow();
            s.generation != generation || s.conn.is_some()
        };
        let same = core
            .sessions
            .borrow()
            .get(&client_id)
            .is_some_and(|s| Rc::ptr_eq(s, &session));
        if !(reconnected && same) {
            publish_will(&core, will, client_id);
        }
    })
    .detach();
}

fn publish_will(core: &Core, will: Will, client_id: MqttStr) {
    core.publish(Arc::new(message_from_will(will, client_id)));
}

/// Ends the session now (expiry 0) or after its expiry interval if the client has
/// not come back by then.
pub fn expire_session_later(core: &Rc<Core>, session: &SessionRef) {
    let (expiry, generation) = {
        let s = session.borrow();
        (s.expiry_interval, s.generation)
    };
    if expiry == 0 {
        core.end_session(session);
        return;
    }
    let core = core.clone();
    let session = session.clone();
    glommio::spawn_local(async move {
        glommio::timer::sleep(Duration::from_secs(u64::from(expiry))).await;
        let idle = {
            let s = session.borrow();
            s.generation == generation && s.conn.is_none()
        };
        if idle {
            CoreMetrics::add(&core.metrics.sessions_expired, 1);
            core.end_session(&session);
        }
    })
    .detach();
}
