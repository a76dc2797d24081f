//! A held connection (`conn`): connects, then only reads until the run ends,
//! so the broker's cost of an idle connection can be measured.

use std::net::SocketAddr;
use std::rc::Rc;

use super::client::{connect, ClientOptions};
use crate::run::control::{ExecCtx, Phase};
use crate::stats::add;

/// Connects `client_id` and holds the connection until the run ends.
pub async fn run(ctx: Rc<ExecCtx>, opts: Rc<ClientOptions>, addr: SocketAddr, client_id: String) {
    let mut client = match connect(&opts, addr, &client_id).await {
        Ok(c) => c,
        Err(e) => {
            add(&ctx.stats.connect_failed, 1);
            ctx.stats.note_error(&client_id, e.to_string());
            return;
        }
    };
    add(&ctx.stats.connected, 1);
    add(&ctx.stats.ready, 1);
    ctx.hist
        .record_connect(client.connect_time.as_micros() as u64);
    let why = loop {
        match client.reader.fill().await {
            Ok(0) => break "connection closed by the peer".to_string(),
            Ok(_) => while let Ok(Some(_)) = client.reader.try_next() {},
            Err(e) => break e.to_string(),
        }
    };
    if ctx.control.phase() < Phase::Done {
        add(&ctx.stats.dropped, 1);
        ctx.stats.note_error(&client_id, why.to_string());
    }
}
