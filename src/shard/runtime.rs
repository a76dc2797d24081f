//! Process start-up and shutdown: one pinned glommio executor per data-path core, each
//! joining the cross-core mesh and binding every listener with SO_REUSEPORT (so the
//! kernel spreads new connections over the cores); the main thread waits for
//! SIGINT/SIGTERM and then asks the cores to close their connections and stop.
//! Before any core binds, start-up refuses a listener port that another process
//! already listens on (SO_REUSEPORT alone would share it silently).

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::config::Config;
use crate::link::registry::LinkRegistry;
use crate::link::shard::LinkShard;
use crate::link::LinkCommand;
use crate::metrics::CoreMetrics;

use super::connection;
use super::core::{Core, Shared};
use super::mesh::{CoreMsg, Mesh};

/// Batches in flight per ordered pair of cores.
const MESH_CHANNEL_SIZE: usize = 1024;
/// io_uring buffer memory per executor: modest, since the locked-memory limit is small.
const IO_MEMORY: usize = 512 * 1024;
/// How long cores wait for connections to say goodbye at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long start-up waits for a listener's port to come free before refusing: long
/// enough to outlast the listening socket of a broker killed just before (io_uring
/// tears it down a moment after the process dies), short enough to refuse quickly.
const PORT_BUSY_PATIENCE: Duration = Duration::from_secs(2);
/// Pause between two looks at a port that is taken.
const PORT_BUSY_RETRY: Duration = Duration::from_millis(20);

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start executor for core {core}: {source}")]
    Executor {
        core: usize,
        source: glommio::GlommioError<()>,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("core {core} stopped with an error: {message}")]
    Core { core: usize, message: String },
    #[error("links: {0}")]
    Links(String),
    #[error("cannot serve the admin API: {0}")]
    Admin(std::io::Error),
    #[error("listener {addr}: address already in use (another process is listening there)")]
    PortTaken { addr: SocketAddr },
    #[error("listener {addr}: {source}")]
    Listener {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Where links changed through the admin API are kept: next to the config file,
/// or nowhere when running on built-in defaults.
fn links_file(config: &Config) -> Option<std::path::PathBuf> {
    config.source.as_deref().map(LinkRegistry::persist_path_for)
}

/// A process incarnation id: changes at every start, so remotes drop stale routes.
fn incarnation() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", nanos, std::process::id())
}

async fn run_link_shard(
    config: Arc<Config>,
    shared: Arc<Shared>,
    mesh: MeshBuilder<Vec<CoreMsg>, glommio::channels::channel_mesh::Full>,
    commands: crossbeam::channel::Receiver<LinkCommand>,
    ready: crossbeam::channel::Sender<Result<(), String>>,
) -> Result<(), String> {
    let cores = config.node.cores.max(1);
    let (senders, receivers) = match mesh.join().await {
        Ok(ends) => ends,
        Err(_) => {
            let _ = ready.send(Err("link shard: cannot join the mesh".into()));
            return Err("link shard: cannot join the mesh".into());
        }
    };
    if senders.peer_id() != cores {
        let message = format!(
            "link shard got mesh index {} instead of {cores}",
            senders.peer_id()
        );
        let _ = ready.send(Err(message.clone()));
        return Err(message);
    }
    let mesh = Rc::new(Mesh::new(senders, cores));
    let _ = ready.send(Ok(()));
    LinkShard::new(&config.node.cluster, &incarnation(), mesh)
        .run(receivers, commands, shared)
        .await;
    Ok(())
}

/// A running broker: its cores' threads and the shared state to stop them.
pub struct Broker {
    shared: Arc<Shared>,
    handles: Vec<glommio::ExecutorJoinHandle<Result<(), String>>>,
    pub metrics: Vec<Arc<CoreMetrics>>,
    /// The links, as the admin API sees and changes them.
    pub registry: Arc<LinkRegistry>,
}

impl Broker {
    /// Starts the cores; returns once every core has bound its listeners (or failed to).
    pub fn start(config: Config) -> Result<Broker, StartError> {
        for l in &config.listener {
            ensure_port_free(l.addr(), PORT_BUSY_PATIENCE)?;
        }
        let config = Arc::new(config);
        let cores = config.node.cores.max(1);
        let shared = Arc::new(Shared::default());
        let (commands_tx, commands_rx) = crossbeam::channel::unbounded::<LinkCommand>();
        let registry = LinkRegistry::new(
            config.node.cluster.clone(),
            config.link.clone(),
            links_file(&config),
            commands_tx,
        )
        .map_err(|e| StartError::Links(e.to_string()))?;
        // Data cores are peers 0..cores; the link shard, spawned last, is peer `cores`.
        let mesh: MeshBuilder<Vec<CoreMsg>, _> = MeshBuilder::full(cores + 1, MESH_CHANNEL_SIZE);
        let (ready_tx, ready_rx) = crossbeam::channel::bounded::<Result<(), String>>(cores + 1);
        let cpus = online_cpus();
        let mut handles = Vec::with_capacity(cores);
        let mut metrics = Vec::with_capacity(cores);
        for core in 0..cores {
            let placement = match cpus.get(core) {
                Some(cpu) => Placement::Fixed(*cpu),
                None => Placement::Unbound,
            };
            let core_metrics = Arc::new(CoreMetrics::default());
            metrics.push(core_metrics.clone());
            let (config, shared, mesh, ready) = (
                config.clone(),
                shared.clone(),
                mesh.clone(),
                ready_tx.clone(),
            );
            let registry = registry.clone();
            let handle = LocalExecutorBuilder::new(placement)
                .name(&format!("meridian-core-{core}"))
                .io_memory(IO_MEMORY)
                .spin_before_park(Duration::from_micros(config.tuning.spin_before_park_us))
                .spawn(move || async move {
                    run_core(config, shared, core_metrics, registry, mesh, ready).await
                })
                .map_err(|source| StartError::Executor { core, source })?;
            handles.push(handle);
        }
        {
            let (config, shared, mesh, ready) = (
                config.clone(),
                shared.clone(),
                mesh.clone(),
                ready_tx.clone(),
            );
            let handle = LocalExecutorBuilder::new(Placement::Unbound)
                .name("meridian-link")
                .io_memory(IO_MEMORY)
                .spawn(move || async move {
                    run_link_shard(config, shared, mesh, commands_rx, ready).await
                })
                .map_err(|source| StartError::Executor {
                    core: cores,
                    source,
                })?;
            handles.push(handle);
        }
        drop(ready_tx);
        for _ in 0..=cores {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(message)) => {
                    shared.shutdown.store(true, Ordering::Relaxed);
                    return Err(StartError::Core { core: 0, message });
                }
                Err(_) => break,
            }
        }
        registry.start_all();
        Ok(Broker {
            shared,
            handles,
            metrics,
            registry,
        })
    }

    /// Asks every core to close its connections and stop.
    pub fn stop(&self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
    }

    /// Waits for the cores to finish.
    pub fn join(self) -> Result<(), StartError> {
        for (core, handle) in self.handles.into_iter().enumerate() {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(message)) => return Err(StartError::Core { core, message }),
                Err(e) => {
                    return Err(StartError::Core {
                        core,
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}

/// Runs the broker until SIGINT or SIGTERM, then shuts it down cleanly.
pub fn run(config: Config) -> Result<(), StartError> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(StartError::Signals)?;
    let admin = config.admin.as_ref().map(|a| a.addr());
    let broker = Broker::start(config)?;
    if let Some(bind) = admin {
        match crate::admin::spawn(bind, broker.registry.clone(), broker.metrics.clone()) {
            Ok(_) => tracing::info!(%bind, "admin API listening"),
            Err(e) => {
                broker.stop();
                let _ = broker.join();
                return Err(StartError::Admin(e));
            }
        }
    }
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "shutting down");
    }
    broker.stop();
    let metrics = broker.metrics.clone();
    let result = broker.join();
    log_totals(&metrics);
    result
}

fn log_totals(metrics: &[Arc<CoreMetrics>]) {
    let mut totals: Vec<(&'static str, u64)> = Vec::new();
    for m in metrics {
        for (i, (name, v)) in m.snapshot().into_iter().enumerate() {
            if totals.len() <= i {
                totals.push((name, 0));
            }
            totals[i].1 += v;
        }
    }
    let text: Vec<String> = totals
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    tracing::info!(counters = %text.join(" "), "stopped");
}

/// Fails if another process listens on `addr`, after waiting up to `patience` for
/// it to go. The cores bind with SO_REUSEPORT, which would let a second broker on a
/// served port start silently and share the clients with the first. The probe binds
/// with SO_REUSEADDR but without SO_REUSEPORT: Linux then refuses the bind while any
/// socket listens on the address (whatever its options), yet allows it over sockets
/// in TIME_WAIT, so a restart after a clean stop is not delayed. A broker killed a
/// moment ago still has a listening socket until io_uring lets go of it, hence the
/// bounded wait. Port 0 asks for a fresh port per socket and is never taken.
fn ensure_port_free(addr: SocketAddr, patience: Duration) -> Result<(), StartError> {
    use socket2::{Domain, Protocol, Socket, Type};
    if addr.port() == 0 {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + patience;
    loop {
        let listener = |source| StartError::Listener { addr, source };
        let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(listener)?;
        probe.set_reuse_address(true).map_err(listener)?;
        match probe.bind(&addr.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if std::time::Instant::now() >= deadline {
                    return Err(StartError::PortTaken { addr });
                }
                drop(probe);
                std::thread::sleep(PORT_BUSY_RETRY);
            }
            Err(e) => return Err(listener(e)),
        }
    }
}

/// Backlog of pending connections per core's listening socket.
const LISTEN_BACKLOG: i32 = 4096;

/// Binds one core's listening socket: SO_REUSEPORT so every core binds the same
/// address and the kernel spreads connections, and SO_REUSEADDR so a restarted
/// broker can bind while its old connections sit in TIME_WAIT. Returns the socket's
/// descriptor too, for [`stop_listening`] at shutdown.
fn bind_listener(addr: SocketAddr) -> std::io::Result<(TcpListener, RawFd)> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::fd::{FromRawFd, IntoRawFd};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    let fd = socket.into_raw_fd();
    // SAFETY: a bound, listening socket whose ownership passes to the listener.
    Ok((unsafe { TcpListener::from_raw_fd(fd) }, fd))
}

/// Takes a listening socket out of the LISTEN state at shutdown, before the grace
/// period for connections to say goodbye: from here on a new client is refused
/// at once (or reaches a broker started in our place) instead of being accepted by
/// a broker on its way out. Closing the descriptor would not do it: the pending
/// accept in io_uring keeps the socket listening until the ring is torn down,
/// which the kernel does a moment after the process has exited.
fn stop_listening(fd: RawFd) {
    // SAFETY: `fd` belongs to a listener that the caller still holds, so it is open
    // and refers to that socket; shutdown() does not close or reuse it.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

fn online_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity fills the zeroed set we pass.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let ok =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) }
            == 0;
    if !ok {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

async fn run_core(
    config: Arc<Config>,
    shared: Arc<Shared>,
    metrics: Arc<CoreMetrics>,
    registry: Arc<LinkRegistry>,
    mesh: MeshBuilder<Vec<CoreMsg>, glommio::channels::channel_mesh::Full>,
    ready: crossbeam::channel::Sender<Result<(), String>>,
) -> Result<(), String> {
    let cores = config.node.cores.max(1);
    let (senders, mut receivers) = match mesh.join().await {
        Ok(ends) => ends,
        Err(_) => {
            let _ = ready.send(Err("cannot join the cross-core mesh".into()));
            return Err("cannot join the cross-core mesh".into());
        }
    };
    let mesh = Rc::new(Mesh::new(senders, cores));
    let core = Rc::new(Core::new(
        config.clone(),
        shared.clone(),
        metrics,
        registry,
        mesh.clone(),
    ));
    let me = core.id();

    let mut listeners = Vec::new();
    for (i, l) in config.listener.iter().enumerate() {
        let addr = l.addr();
        let tls = match &l.tls {
            None => None,
            Some(tls) => match super::tls::server_config(tls) {
                Ok(c) => Some(c),
                Err(e) => {
                    let message = format!("listener[{i}].{e}");
                    let _ = ready.send(Err(message.clone()));
                    return Err(message);
                }
            },
        };
        match bind_listener(addr) {
            Ok((listener, fd)) => listeners.push((listener, fd, tls)),
            Err(e) => {
                let message = format!("listener[{i}]: cannot bind {addr}: {e}");
                let _ = ready.send(Err(message.clone()));
                return Err(message);
            }
        }
    }
    if me == 0 {
        for l in &config.listener {
            tracing::info!(bind = %l.addr(), tls = l.tls.is_some(), cores = config.node.cores, "listening for MQTT");
        }
    }
    let _ = ready.send(Ok(()));

    if let Some(tick) = &core.flush_tick {
        glommio::spawn_local(tick.clone().run()).detach();
    }
    for peer in 0..mesh.peers() {
        if peer != me {
            glommio::spawn_local(mesh.clone().run_flusher(peer)).detach();
        }
    }
    for (_, receiver) in receivers.streams() {
        let core = core.clone();
        glommio::spawn_local(async move {
            while let Some(batch) = receiver.recv().await {
                for msg in batch {
                    if let Some(handoff) = core.on_core_msg(msg) {
                        glommio::spawn_local(connection::adopt(core.clone(), handoff)).detach();
                    }
                }
            }
        })
        .detach();
    }
    // Each listener with its descriptor, held here as well as by its accept task so
    // the descriptor stays open (and ours) until `stop_listening` at shutdown.
    let mut listening = Vec::new();
    for (listener, fd, tls) in listeners {
        let listener = Rc::new(listener);
        listening.push((listener.clone(), fd));
        let core = core.clone();
        let shared = shared.clone();
        glommio::spawn_local(async move {
            loop {
                match listener.accept().await {
                    Ok(stream) => {
                        let peer = stream.peer_addr().ok();
                        glommio::spawn_local(connection::serve(
                            core.clone(),
                            stream,
                            peer,
                            tls.clone(),
                        ))
                        .detach();
                    }
                    Err(_) if shared.shutdown.load(Ordering::Relaxed) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        glommio::timer::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        })
        .detach();
    }

    while !shared.shutdown.load(Ordering::Relaxed) {
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
    for (_listener, fd) in &listening {
        stop_listening(*fd);
    }
    connection::close_all(&core);
    let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
    while !connection::all_closed(&core) && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    mesh.close();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::{TcpListener as StdListener, TcpStream};
    use std::time::Instant;

    fn loopback(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A socket listening the way a core of a running broker does.
    fn listen_like_a_core(addr: SocketAddr) -> Socket {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
        socket.set_reuse_address(true).expect("SO_REUSEADDR");
        socket.set_reuse_port(true).expect("SO_REUSEPORT");
        socket.bind(&addr.into()).expect("bind");
        socket.listen(16).expect("listen");
        socket
    }

    fn bound_port(socket: &Socket) -> u16 {
        socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("a bound inet socket")
    }

    #[test]
    fn is_a_port_another_broker_listens_on_with_so_reuseport_refused() {
        let other = listen_like_a_core(loopback(0));
        let addr = loopback(bound_port(&other));
        let err = ensure_port_free(addr, Duration::ZERO).expect_err("the port is served");
        assert!(matches!(err, StartError::PortTaken { addr: a } if a == addr));
        assert_eq!(
            err.to_string(),
            format!("listener {addr}: address already in use (another process is listening there)")
        );
    }

    #[test]
    fn is_a_port_a_plain_listener_holds_refused() {
        let other = StdListener::bind(loopback(0)).expect("bind");
        let addr = other.local_addr().expect("addr");
        let err = ensure_port_free(addr, Duration::ZERO).expect_err("the port is served");
        assert!(matches!(err, StartError::PortTaken { addr: a } if a == addr));
    }

    #[test]
    fn is_a_port_served_on_the_wildcard_address_refused_for_loopback() {
        let other = listen_like_a_core(SocketAddr::from(([0, 0, 0, 0], 0)));
        let addr = loopback(bound_port(&other));
        let err = ensure_port_free(addr, Duration::ZERO).expect_err("the port is served");
        assert!(matches!(err, StartError::PortTaken { .. }));
    }

    #[test]
    fn does_a_taken_port_wait_out_the_patience_before_refusing() {
        let other = listen_like_a_core(loopback(0));
        let addr = loopback(bound_port(&other));
        let started = Instant::now();
        let result = ensure_port_free(addr, Duration::from_millis(150));
        assert!(matches!(result, Err(StartError::PortTaken { .. })));
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn is_a_port_whose_listener_goes_during_the_wait_accepted() {
        let other = listen_like_a_core(loopback(0));
        let addr = loopback(bound_port(&other));
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(other);
        });
        let result = ensure_port_free(addr, Duration::from_secs(2));
        closer.join().expect("closer thread");
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn is_a_port_with_only_time_wait_connections_accepted() {
        let listener = StdListener::bind(loopback(0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).expect("connect");
        let (served, _) = listener.accept().expect("accept");
        // The server side closes first, so its end (on `addr`) lands in TIME_WAIT.
        drop(served);
        drop(listener);
        let mut byte = [0u8; 1];
        assert_eq!(
            std::io::Read::read(&mut &client, &mut byte).expect("eof"),
            0
        );
        drop(client);
        assert!(ensure_port_free(addr, Duration::ZERO).is_ok());
    }

    #[test]
    fn is_port_zero_never_probed() {
        assert!(ensure_port_free(loopback(0), Duration::ZERO).is_ok());
    }

    #[test]
    fn does_the_probe_leave_the_port_free_for_the_cores() {
        let free = StdListener::bind(loopback(0)).expect("bind");
        let addr = free.local_addr().expect("addr");
        drop(free);
        ensure_port_free(addr, Duration::ZERO).expect("free port");
        let core = listen_like_a_core(addr);
        assert_eq!(bound_port(&core), addr.port());
    }
}
