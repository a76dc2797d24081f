//! The link shard: its own executor, fed by every data core through the mesh (route
//! changes, messages to forward) and by the control thread through a crossbeam channel
//! (links created, changed, removed). It owns every link's pool connections, outgoing
//! routes and backlog.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ahash::AHashMap;
use glommio::channels::channel_mesh::Receivers;

use super::command::LinkCommand;
use super::conn;
use super::outbound::Link;
use super::routes::LocalRoutes;
use crate::message::Message;
use crate::shard::core::Shared;
use crate::shard::mesh::{CoreMsg, Mesh, RouteDest};

/// How often the control thread's commands are picked up.
const COMMAND_POLL: Duration = Duration::from_millis(20);

/// The link shard's state.
pub struct LinkShard {
    local_cluster: Arc<str>,
    incarnation: Arc<str>,
    mesh: Rc<Mesh>,
    local: std::cell::RefCell<LocalRoutes>,
    links: std::cell::RefCell<AHashMap<Arc<str>, Rc<Link>>>,
}

impl LinkShard {
    pub fn new(local_cluster: &str, incarnation: &str, mesh: Rc<Mesh>) -> Rc<Self> {
        Rc::new(LinkShard {
            local_cluster: Arc::from(local_cluster),
            incarnation: Arc::from(incarnation),
            mesh,
            local: Default::default(),
            links: Default::default(),
        })
    }

    /// Runs until shutdown: mesh receivers, the command poller.
    pub async fn run(
        self: Rc<Self>,
        mut receivers: Receivers<Vec<CoreMsg>>,
        commands: crossbeam::channel::Receiver<LinkCommand>,
        shared: Arc<Shared>,
    ) {
        for peer in 0..self.mesh.peers() {
            if peer != self.mesh.me() {
                glommio::spawn_local(self.mesh.clone().run_flusher(peer)).detach();
            }
        }
        for (_, receiver) in receivers.streams() {
            let shard = self.clone();
            glommio::spawn_local(async move {
                while let Some(batch) = receiver.recv().await {
                    for msg in batch {
                        shard.on_core_msg(msg);
                    }
                }
            })
            .detach();
        }
        while !shared.shutdown.load(Ordering::Relaxed) {
            while let Ok(cmd) = commands.try_recv() {
                self.apply(cmd);
            }
            glommio::timer::sleep(COMMAND_POLL).await;
        }
        for link in self.links.borrow().values() {
            link.stop();
        }
        glommio::timer::sleep(Duration::from_millis(100)).await;
        self.mesh.close();
    }

    fn on_core_msg(&self, msg: CoreMsg) {
        match msg {
            CoreMsg::Route {
                filter,
                dest: RouteDest::Core(_),
                add,
                ..
            } => self.on_local_route(&filter, add),
            CoreMsg::Forward { msg, links } => {
                let all = self.links.borrow();
                for name in &links {
                    if let Some(link) = all.get(name) {
                        link.enqueue(msg.clone());
                    }
                }
            }
            CoreMsg::Barrier { from, token } => self.mesh.send(from, CoreMsg::BarrierAck { token }),
            // Routes towards links, deliveries, retained updates and hand-offs are for
            // the data cores.
            _ => {}
        }
    }

    /// A core's route change: a local filter may appear or disappear in the
    /// process, which changes what each link asks its remote for.
    fn on_local_route(&self, filter: &str, add: bool) {
        let Some(appeared) = self.local.borrow_mut().apply(filter, add) else {
            return;
        };
        for link in self.links.borrow().values() {
            let changes = link.routes.borrow_mut().on_local(filter, appeared);
            link.send_route_changes(changes);
        }
    }

    fn apply(&self, cmd: LinkCommand) {
        match cmd {
            LinkCommand::Upsert { config, metrics } => {
                let name: Arc<str> = Arc::from(config.name.as_str());
                let carried: Vec<Arc<Message>> = match self.links.borrow_mut().remove(&name) {
                    Some(old) => old.stop(),
                    None => Vec::new(),
                };
                let link = Rc::new(Link::new(
                    config,
                    metrics,
                    &self.local.borrow(),
                    self.local_cluster.clone(),
                    self.incarnation.clone(),
                ));
                for msg in carried {
                    link.enqueue(msg);
                }
                if !link.config.enable {
                    // Disabled: the remote's link connections to us end and its
                    // routes go, as for a deleted link (they come back when enabled).
                    for core in 0..self.mesh.cores() {
                        self.mesh
                            .send(core, CoreMsg::LinkRemoved { name: name.clone() });
                    }
                }
                for c in &link.conns {
                    glommio::spawn_local(conn::run(link.clone(), c.clone())).detach();
                }
                tracing::info!(link = %name, enable = link.config.enable, server = %link.config.server, "link configured");
                self.links.borrow_mut().insert(name, link);
            }
            LinkCommand::Remove { name } => {
                if let Some(link) = self.links.borrow_mut().remove(name.as_str()) {
                    link.stop();
                    tracing::info!(link = %name, "link removed");
                }
                // The routes the remote asked us for go too: nothing is forwarded to
                // a link that no longer exists.
                let name: Arc<str> = Arc::from(name.as_str());
                for core in 0..self.mesh.cores() {
                    self.mesh
                        .send(core, CoreMsg::LinkRemoved { name: name.clone() });
                }
            }
        }
    }
}
